import { courses, users } from '../../src/db/schema';
import { ensureCourse, ensurePlatform, ensureUser, findCourse, findPlatform, findUser } from '../../src/identity/records';
import { drivers, openTestStore, type TestStore } from '../support/db';

describe.each(drivers)('identity on %s', (driver) => {
  let t: TestStore;
  beforeAll(async () => {
    t = await openTestStore(driver);
  });
  afterAll(() => t.destroy());

  it('registers a platform once, whatever the trailing slash', async () => {
    const a = await ensurePlatform(t.store.db, 'http://127.0.0.1:8181/', 'Moodle LTI Test');
    const b = await ensurePlatform(t.store.db, 'http://127.0.0.1:8181');
    expect(b.id).toBe(a.id);
    expect(b.name).toBe('Moodle LTI Test');
    expect((await findPlatform(t.store.db, 'http://127.0.0.1:8181'))?.id).toBe(a.id);
  });

  it('keeps stored attributes that a later sighting does not send', async () => {
    const p = await ensurePlatform(t.store.db, 'https://moodle.univ.fr');
    await ensureUser(t.store.db, p.id, '4', { name: 'Student One', locale: 'fr' });
    const again = await ensureUser(t.store.db, p.id, '4', { locale: 'en' });
    expect(again).toMatchObject({ name: 'Student One', locale: 'en', email: null });
    expect((await findUser(t.store.db, p.id, '4'))?.id).toBe(again.id);
    expect(await t.store.db.select().from(users)).toHaveLength(1);
  });

  it('keeps one course per (platform, context) and the same context id apart on two platforms', async () => {
    const p1 = await ensurePlatform(t.store.db, 'https://a.example');
    const p2 = await ensurePlatform(t.store.db, 'https://b.example');
    const c1 = await ensureCourse(t.store.db, p1.id, '2', 'LTI Test Course');
    const c1again = await ensureCourse(t.store.db, p1.id, '2');
    const c2 = await ensureCourse(t.store.db, p2.id, '2', 'Other');
    expect(c1again).toMatchObject({ id: c1.id, title: 'LTI Test Course' });
    expect(c2.id).not.toBe(c1.id);
    expect((await findCourse(t.store.db, p2.id, '2'))?.title).toBe('Other');
    expect(await t.store.db.select().from(courses)).toHaveLength(2);
  });
});
