// Tensor creation beyond the basic factories of tensor.ts: ranges, identity, *Like, random integers.

export {};
