// Layer functions that are not convolution, pooling, normalization or loss: dropout, embedding.

export {};
