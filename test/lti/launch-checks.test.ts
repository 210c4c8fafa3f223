import { claimsRefusal } from '../../lti/launch-checks';

const limits = { tokenMaxAgeSeconds: 60, clockSkewSeconds: 60 };
const NOW = 1_800_000_000;
const token = (claims: Record<string, unknown>) => ({ nonce: 'n', iat: NOW, exp: NOW + 60, ...claims });

describe('the claims of an id_token on Socle’s clock', () => {
  it('accepts a fresh token with the login’s nonce, and iat up to the skew ahead or the max age behind', () => {
    expect(claimsRefusal(token({}), 'n', NOW, limits)).toBeUndefined();
    expect(claimsRefusal(token({ iat: NOW + 60, exp: NOW + 120 }), 'n', NOW, limits)).toBeUndefined();
    expect(claimsRefusal(token({ iat: NOW - 60, exp: NOW + 10 }), 'n', NOW, limits)).toBeUndefined();
    // exp just passed, within the skew
    expect(claimsRefusal(token({ iat: NOW - 30, exp: NOW - 30 }), 'n', NOW, limits)).toBeUndefined();
  });

  it('refuses each claim out of bounds, and any other nonce', () => {
    expect(claimsRefusal(token({ nonce: 'other' }), 'n', NOW, limits)).toMatch(/nonce/);
    expect(claimsRefusal(token({ nonce: undefined }), 'n', NOW, limits)).toMatch(/nonce/);
    expect(claimsRefusal(token({ exp: undefined }), 'n', NOW, limits)).toMatch(/no exp/);
    expect(claimsRefusal(token({ exp: 'tomorrow' }), 'n', NOW, limits)).toMatch(/no exp/);
    expect(claimsRefusal(token({ iat: NOW - 50, exp: NOW - 61 }), 'n', NOW, limits)).toMatch(/expired/);
    expect(claimsRefusal(token({ iat: undefined }), 'n', NOW, limits)).toMatch(/no iat/);
    expect(claimsRefusal(token({ iat: NOW + 61, exp: NOW + 3600 }), 'n', NOW, limits)).toMatch(/future/);
    expect(claimsRefusal(token({ iat: NOW + 86_400, exp: NOW + 86_460 }), 'n', NOW, limits)).toMatch(/future/);
    expect(claimsRefusal(token({ iat: NOW - 61, exp: NOW + 3600 }), 'n', NOW, limits)).toMatch(/older than 60 s/);
  });
});
