// The public custom-op API: a differentiable op from a forward and a backward written with existing ops,
// or around a user's own WGSL kernel.

export {};
