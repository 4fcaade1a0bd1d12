// Public API of this kernel folder (filled in by its owner).
export {};
