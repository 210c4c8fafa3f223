import { parseMultipart } from '../../src/web/multipart';

/** A body as a browser encodes it (Request builds the multipart/form-data of a FormData). */
async function encoded(form: FormData): Promise<{ body: Buffer; type: string }> {
  const request = new Request('http://x.example/', { method: 'POST', body: form });
  return { body: Buffer.from(await request.arrayBuffer()), type: String(request.headers.get('content-type')) };
}

describe('multipart/form-data bodies', () => {
  it('reads text fields (UTF-8) and files byte for byte, leaving out an empty file input', async () => {
    const bytes = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff, 0x0d, 0x0a, 0x2d, 0x2d]);
    const form = new FormData();
    form.append('legalName', 'Université d’Évry — « Paris-Saclay »');
    form.append('city', '');
    form.append('logo', new Blob([bytes], { type: 'image/png' }), 'logo.png');
    const { body, type } = await encoded(form);
    const parsed = await parseMultipart(body, type);
    expect(parsed.fields).toEqual({ legalName: 'Université d’Évry — « Paris-Saclay »', city: '' });
    expect(Object.keys(parsed.files)).toEqual(['logo']);
    expect(parsed.files.logo).toMatchObject({ fileName: 'logo.png', contentType: 'image/png' });
    expect(parsed.files.logo?.data.equals(bytes)).toBe(true);
    // a browser's file input left empty: a part with an empty file name and no bytes
    const empty = Buffer.from('--b\r\nContent-Disposition: form-data; name="logo"; filename=""\r\nContent-Type: application/octet-stream\r\n\r\n\r\n--b--\r\n');
    expect(await parseMultipart(empty, 'multipart/form-data; boundary=b')).toEqual({ fields: {}, files: {} });
  });

  it.each([
    ['no boundary', Buffer.from('x'), 'multipart/form-data'],
    ['no part', Buffer.from('hello'), 'multipart/form-data; boundary=abc'],
    ['an unterminated part', Buffer.from('--abc\r\nContent-Disposition: form-data; name="a"\r\n\r\nvalue'), 'multipart/form-data; boundary=abc'],
    ['another content type', Buffer.from('a=1'), 'application/x-www-form-urlencoded'],
  ])('refuses a body with %s as a bad request', async (_what, body, type) => {
    await expect(parseMultipart(body, type)).rejects.toMatchObject({ code: 'invalid_request' });
  });

});
