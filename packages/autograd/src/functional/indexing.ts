// Indexing and masks: gather, indexSelect, where, maskedFill, comparisons.

export {};
