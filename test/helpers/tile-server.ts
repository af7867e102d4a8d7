/**
 * A local slippy-map tile server for the map tests (issue 20): real HTTP on a loopback port serving
 * /{z}/{x}/{y}.png as generated PNG images (a light square with a border, its colour from z/x/y, so
 * neighbouring tiles differ), and counting every request, so a test can prove the dashboard drew its
 * map from the configured tile server. Coordinates outside the tile grid of their zoom answer 404,
 * like a real tile server.
 */
import { createServer, type Server } from 'node:http';
import { crc32, deflateSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';

export interface TileServer {
  /** The URL template for [map] tile_url. */
  template: string;
  origin: string;
  /** Every tile request served, as "z/x/y". */
  requests: string[];
  close(): Promise<void>;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** A 256x256 RGB PNG (PNG spec: IHDR, one zlib IDAT of filter-0 scanlines, IEND). */
export function tilePng(z: number, x: number, y: number): Buffer {
  const size = 256;
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: RGB
  const fill = [200 + ((x * 7 + z) % 40), 210 + ((y * 5 + z) % 40), 190 + ((x + y) % 50)];
  const raw = Buffer.alloc((size * 3 + 1) * size);
  for (let row = 0; row < size; row++) {
    const at = row * (size * 3 + 1);
    raw[at] = 0;
    for (let col = 0; col < size; col++) {
      const edge = row === 0 || col === 0;
      for (let c = 0; c < 3; c++) raw[at + 1 + col * 3 + c] = edge ? 120 : fill[c]!;
    }
  }
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

export async function startTileServer(): Promise<TileServer> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const m = /^\/(\d+)\/(\d+)\/(\d+)\.png$/.exec(req.url ?? '');
    const [z, x, y] = m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [NaN, NaN, NaN];
    if (!m || z > 22 || x >= 2 ** z || y >= 2 ** z) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('no such tile');
      return;
    }
    requests.push(`${z}/${x}/${y}`);
    res.writeHead(200, { 'content-type': 'image/png', 'cache-control': 'no-store' }).end(tilePng(z, x, y));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    template: `${origin}/{z}/{x}/{y}.png`,
    origin,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
