/** Minimal zip and tar writers, to build fixtures for the readers in scripts/ensure-helm.ts. */
import zlib from 'node:zlib';

export interface ZipFixtureEntry {
  readonly name: string;
  readonly data: Buffer;
  readonly method: 'store' | 'deflate';
}

export function makeZip(entries: readonly ZipFixtureEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name, 'utf8');
    const body = entry.method === 'store' ? entry.data : zlib.deflateRawSync(entry.data);
    const method = entry.method === 'store' ? 0 : 8;
    const crc = zlib.crc32(entry.data);

    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(entry.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    locals.push(local, name, body);

    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(method, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(entry.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    offset += local.length + name.length + body.length;
  }
  const centralDirectory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(centralDirectory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, centralDirectory, end]);
}

export interface TarFixtureEntry {
  readonly name: string;
  readonly data: Buffer;
  /** Store the name in a pax extended header instead of the ustar name field. */
  readonly pax?: boolean;
  readonly type?: '0' | '5';
}

export function makeTar(entries: readonly TarFixtureEntry[]): Buffer {
  const blocks: Buffer[] = [];
  const push = (name: string, type: string, data: Buffer) => {
    const header = Buffer.alloc(512);
    header.write(name.slice(0, 100), 0, 'utf8');
    header.write('0000644\0', 100, 'ascii');
    header.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124, 'ascii');
    header.write(type, 156, 'ascii');
    header.write('ustar\0', 257, 'ascii');
    header.write('00', 263, 'ascii');
    blocks.push(header, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  };
  for (const entry of entries) {
    if (entry.pax === true) {
      const record = (body: string) => {
        let length = body.length + 3;
        while (`${length} ${body}\n`.length !== length) length = `${length} ${body}\n`.length;
        return `${length} ${body}\n`;
      };
      push('PaxHeader', 'x', Buffer.from(record(`path=${entry.name}`), 'utf8'));
      push('truncated-name', entry.type ?? '0', entry.data);
    } else {
      push(entry.name, entry.type ?? '0', entry.data);
    }
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}
