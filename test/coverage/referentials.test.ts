import { loadBundledReferentials } from '../../src/referentials/catalogue';
import { testContext } from '../support/app';
import { drivers, openTestStore, type TestStore } from '../support/db';

describe.each(drivers)('coverage reads its référentiels from the catalogue on %s', (driver) => {
  let t: TestStore;
  beforeAll(async () => {
    t = await openTestStore(driver);
    await loadBundledReferentials(t.store.db);
  });
  afterAll(() => t.destroy());

  it('finds the bundled 28 h référentiel, by version or as the current one, and nothing for an unknown one', async () => {
    // a context's default référentiels: the catalogue
    const lookup = testContext(t.store).referentials(t.store.db);
    const current = await lookup('socle-sante-niveaux-4-8');
    expect(current).toMatchObject({ version: 'V1.1.2022', requiredMinutes: 28 * 60 });
    expect(current?.domains.map((d) => d.requiredMinutes)).toEqual([360, 300, 300, 360, 360]);
    expect(await lookup('socle-sante-niveaux-4-8', 'V1.1.2022')).toBe(await lookup('socle-sante-niveaux-4-8', 'V1.1.2022'));
    expect(await lookup('nope', 'V1')).toBeUndefined();
  });
});
