// Launchers and float64 references of this family (filled in by its helper).

export {};
