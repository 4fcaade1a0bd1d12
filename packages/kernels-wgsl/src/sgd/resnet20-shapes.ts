/** ResNet20's parameter shapes (1x1-conv projection shortcuts), in state_dict order. */
export function resnet20ParamShapes(): number[][] {
  const s: number[][] = [[16, 3, 3, 3], [16], [16]];
  let cin = 16;
  for (const c of [16, 32, 64]) {
    for (let b = 0; b < 3; b++) {
      s.push([c, b === 0 ? cin : c, 3, 3], [c], [c], [c, c, 3, 3], [c], [c]);
      if (b === 0 && cin !== c) s.push([c, cin, 1, 1], [c], [c]);
    }
    cin = c;
  }
  s.push([10, 64], [10]);
  return s;
}
