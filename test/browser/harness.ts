// A page for in-browser checks: serves `entry` bundled for the browser (bundleForBrowser: a
// Node built-in anywhere below it fails the build) and named files, from localhost (WebGPU is
// only offered to secure contexts, which file:// pages are not).
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { bundleForBrowser } from '@wgtorch/resnet20/demo';

export interface CheckServer {
  url: string;
  close(): Promise<void>;
}

/** Serves `/` (a page loading `entry` as a module) and each of `files` at `/files/<name>`. */
export async function serveChecks(entry: string, files: Record<string, string> = {}): Promise<CheckServer> {
  const js = await bundleForBrowser(entry);
  const html =
    '<!doctype html><html><head><meta charset="utf-8"></head><body><script type="module" src="checks.js">' +
    '</script></body></html>';
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const send = (status: number, type: string, body: string | Uint8Array) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (path === '/') return send(200, 'text/html; charset=utf-8', html);
    if (path === '/checks.js') return send(200, 'text/javascript; charset=utf-8', js);
    const file = path.startsWith('/files/') ? files[path.slice(7)] : undefined;
    if (file) return send(200, 'application/octet-stream', readFileSync(file));
    send(404, 'text/plain', `not found: ${path}`);
  });
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(0, '127.0.0.1', () => res());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { url: `http://localhost:${port}/`, close: () => new Promise((res) => server.close(() => res())) };
}
