import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { startServer } from '../../src/app/server';
import { createLogger } from '../../src/logger';
import { createTestDatabase } from '../support/db';
import { testConfig } from '../support/app';

describe('startServer', () => {
  it('closes what it opened when it cannot listen: the store lets go of its data directory', async () => {
    const database = await createTestDatabase('pglite');
    const dataDir = (database.options as { dataDir: string }).dataDir;
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '0.0.0.0', resolve));
    try {
      const { port } = taken.address() as AddressInfo;
      await expect(startServer(testConfig({ dataDir, port }), { logger: createLogger('silent') })).rejects.toThrow(/EADDRINUSE/);
      expect(fs.existsSync(path.join(dataDir, 'socle.lock'))).toBe(false);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
      await database.destroy();
    }
  }, 60_000);
});
