// A small GPT-style character model (Karpathy's nanoGPT in miniature): token and position
// embeddings, pre-LayerNorm blocks of causal multi-head self-attention and a GELU MLP, each with
// a residual join, then a final LayerNorm and a linear head. Names follow the PyTorch module in
// scripts/fixture_ops/examples.py, so weights move between the two as safetensors.

import {
  Dropout,
  Embedding,
  GELU,
  LayerNorm,
  Linear,
  Module,
  ModuleList,
  Tensor,
  add,
  arange,
  dropout,
  maskedFill,
  matmul,
  reshape,
  softmax,
  split,
  tensor,
  transpose,
  type BackendName,
} from '@wgtorch/autograd';

export interface GptConfig {
  vocab: number;
  /** Context length (tokens). */
  block: number;
  embd: number;
  heads: number;
  layers: number;
  dropout: number;
}

export const GPT_DEFAULTS: Omit<GptConfig, 'vocab'> = { block: 64, embd: 64, heads: 4, layers: 2, dropout: 0.1 };

/** [T, T] with 1 above the diagonal: the future each position must not attend to. */
export function causalMask(T: number, backend: BackendName): Tensor {
  const m = new Float32Array(T * T);
  for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) m[i * T + j] = 1;
  return tensor(m, [T, T], { backend });
}

/** [B*T, in] -> [B, T, out] through a Linear that takes 2-D input. */
function linear3d(l: Linear, x: Tensor): Tensor {
  const [B, T, D] = x.shape;
  return reshape(l.forward(reshape(x, [B * T, D])), [B, T, l.outFeatures]);
}

export class Block extends Module {
  ln1: LayerNorm;
  qkv: Linear;
  proj: Linear;
  ln2: LayerNorm;
  fc: Linear;
  gelu = new GELU();
  fc2: Linear;
  drop: Dropout;

  constructor(
    readonly c: GptConfig,
    backend: BackendName,
  ) {
    super();
    const d = c.embd;
    this.ln1 = new LayerNorm([d], { backend });
    this.qkv = new Linear(d, 3 * d, { backend });
    this.proj = new Linear(d, d, { backend });
    this.ln2 = new LayerNorm([d], { backend });
    this.fc = new Linear(d, 4 * d, { backend });
    this.fc2 = new Linear(4 * d, d, { backend });
    this.drop = new Dropout(c.dropout);
  }

  attention(x: Tensor, causal: Tensor): Tensor {
    const [B, T, D] = x.shape;
    const H = this.c.heads;
    const dh = D / H;
    // [B, T, 3D] -> q, k, v as [B*H, T, dh]
    const heads = (t: Tensor) => reshape(transpose(reshape(t, [B, T, H, dh]), 1, 2), [B * H, T, dh]);
    const [q, k, v] = split(linear3d(this.qkv, x), D, 2).map(heads);
    let att = matmul(q, k, { transB: true }).mul(1 / Math.sqrt(dh)); // [B*H, T, T]
    att = softmax(maskedFill(att, causal, -Infinity), -1);
    att = dropout(att, this.c.dropout, this.training);
    const y = reshape(transpose(reshape(matmul(att, v), [B, H, T, dh]), 1, 2), [B, T, D]);
    return this.drop.forward(linear3d(this.proj, y));
  }

  forwardWith(x: Tensor, causal: Tensor): Tensor {
    x = add(x, this.attention(this.ln1.forward(x), causal));
    const h = linear3d(this.fc2, this.gelu.forward(linear3d(this.fc, this.ln2.forward(x))));
    return add(x, this.drop.forward(h));
  }

  forward(): Tensor {
    throw new Error('Block.forward: call forwardWith(x, causalMask).');
  }
}

export class CharGPT extends Module {
  tok: Embedding;
  pos: Embedding;
  blocks: ModuleList;
  lnf: LayerNorm;
  head: Linear;
  drop: Dropout;

  constructor(
    readonly c: GptConfig,
    readonly backend: BackendName = 'gpu',
  ) {
    super();
    this.tok = new Embedding(c.vocab, c.embd, { backend });
    this.pos = new Embedding(c.block, c.embd, { backend });
    this.drop = new Dropout(c.dropout);
    this.blocks = new ModuleList(Array.from({ length: c.layers }, () => new Block(c, backend)));
    this.lnf = new LayerNorm([c.embd], { backend });
    this.head = new Linear(c.embd, c.vocab, { bias: false, backend });
  }

  /** Logits [B, T, vocab] for int32 token ids [B, T]. */
  forward(idx: Tensor): Tensor {
    const [B, T] = idx.shape;
    if (T > this.c.block) throw new Error(`CharGPT: ${T} tokens exceed the context of ${this.c.block}.`);
    const positions = arange(T, { backend: this.backend });
    const causal = causalMask(T, this.backend);
    let x = this.drop.forward(add(this.tok.forward(idx), this.pos.forward(positions)));
    for (const b of this.blocks) x = (b as Block).forwardWith(x, causal);
    return reshape(linear3d(this.head, this.lnf.forward(x)), [B, T, this.c.vocab]);
  }
}
