import fs from 'node:fs';
import type { Command } from 'commander';
import { invalid, notFound, SocleError } from '../domain/errors';
import { findPlatform } from '../identity/records';
import { institutionProfileOf, requireInstitution, setInstitution } from '../identity/institution';
import type { InstitutionProfile } from '../domain/institution';
import { output, type WithContext } from './command';

/** The option of each field of the profile (errors name the option the user typed). */
const OPTIONS = {
  legalName: '--name',
  shortName: '--short-name',
  uai: '--uai',
  siret: '--siret',
  signatoryName: '--signatory-name',
  signatoryTitle: '--signatory-title',
  city: '--city',
  timeZone: '--time-zone',
  url: '--url',
  email: '--email',
  logo: '--logo',
} as const;

interface SetOptions {
  platform: string;
  name?: string;
  shortName?: string;
  uai?: string;
  siret?: string;
  logo?: string;
  removeLogo?: boolean;
  signatoryName?: string;
  signatoryTitle?: string;
  city?: string;
  timeZone?: string;
  url?: string;
  email?: string;
  json?: boolean;
}

/** An empty value clears an optional field (`--uai ""`). */
const orNull = (value: string | undefined) => (value === undefined ? undefined : value.trim() === '' ? null : value);

function human(p: InstitutionProfile): string {
  const line = (label: string, value: string | null) => `${label.padEnd(16)}${value ?? '—'}`;
  return [
    line('platform', p.platform),
    line('legal name', p.legalName),
    line('short name', p.shortName),
    line('UAI', p.uai),
    line('SIRET', p.siret),
    line('signatory', [p.signatoryName, p.signatoryTitle].filter(Boolean).join(', ') || null),
    line('city', p.city),
    line('time zone', p.timeZone),
    line('url', p.url),
    line('email', p.email),
    line('logo', p.logo ? `${p.logo.type}, ${p.logo.width}×${p.logo.height}, ${p.logo.bytes} bytes` : null),
  ].join('\n');
}

export function registerInstitution(program: Command, withContext: WithContext): void {
  const institution = program
    .command('institution')
    .description('the institution profile of a platform: the name, logo and signatory of attestations and badges, the time zone of dates');
  institution
    .command('set')
    .description('create or change the profile (options not given are kept; an empty value clears a field)')
    .requiredOption('--platform <issuer>', "the platform's issuer (Moodle wwwroot)")
    .option('--name <legal name>', 'the legal name, as attestations print it (required the first time)')
    .option('--short-name <name>', 'a short name (acronym)')
    .option('--uai <uai>', 'the UAI (7 digits and a letter)')
    .option('--siret <siret>', 'the SIRET (14 digits)')
    .option('--logo <file>', 'a PNG or SVG logo (at most 512 KB, sides 16 to 4096; SVG without scripts or outside references)')
    .option('--remove-logo', 'remove the logo')
    .option('--signatory-name <name>', 'who signs attestations')
    .option('--signatory-title <title>', "the signatory's title (e.g. Directeur des études)")
    .option('--city <city>', 'the city attestations are made in ("Fait à …")')
    .option('--time-zone <zone>', 'the IANA time zone of dates (Europe/Paris, Indian/Reunion, America/Cayenne…)')
    .option('--url <url>', 'the public web site')
    .option('--email <email>', 'the contact email')
    .option('--json', 'print the profile as JSON')
    .action(async (opts: SetOptions) => {
      if (opts.logo !== undefined && opts.removeLogo) throw invalid('--logo and --remove-logo: give one of them');
      let logo: Buffer | null | undefined = opts.removeLogo ? null : undefined;
      if (opts.logo !== undefined) {
        try {
          logo = fs.readFileSync(opts.logo);
        } catch (error) {
          throw invalid(`--logo: cannot read ${opts.logo} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
        }
      }
      const profile = await withContext(async ({ store }) => {
        const platform = await findPlatform(store.db, opts.platform);
        if (!platform) throw notFound(`--platform: no platform ${opts.platform} (see socle platforms list)`);
        const fields = {
          legalName: opts.name,
          shortName: orNull(opts.shortName),
          uai: orNull(opts.uai),
          siret: orNull(opts.siret),
          signatoryName: orNull(opts.signatoryName),
          signatoryTitle: orNull(opts.signatoryTitle),
          city: orNull(opts.city),
          timeZone: opts.timeZone,
          url: orNull(opts.url),
          email: orNull(opts.email),
        };
        try {
          const row = await setInstitution(store.db, platform, { fields, ...(logo === undefined ? {} : { logo }) }, 'cli');
          return institutionProfileOf(row, platform.issuer);
        } catch (error) {
          if (!(error instanceof SocleError)) throw error;
          // name the options, not the fields
          const option = (path: string) => OPTIONS[path.split('.')[0] as keyof typeof OPTIONS] ?? path;
          const details = error.details.map((d) => ({ path: option(d.path), message: d.message }));
          throw new SocleError(error.code, `${details.map((d) => d.path).join(', ') || 'institution'}: ${error.message}`, details);
        }
      });
      output(profile, Boolean(opts.json), () => `Institution profile of ${profile.platform} saved.\n${human(profile)}`);
    });
  institution
    .command('show')
    .description('print the profile')
    .requiredOption('--platform <issuer>', "the platform's issuer (Moodle wwwroot)")
    .option('--json', 'print JSON')
    .action(async (opts: { platform: string; json?: boolean }) => {
      const profile = await withContext(async ({ store }) => {
        const platform = await findPlatform(store.db, opts.platform);
        if (!platform) throw notFound(`--platform: no platform ${opts.platform} (see socle platforms list)`);
        return institutionProfileOf(await requireInstitution(store.db, platform.id), platform.issuer);
      });
      output(profile, Boolean(opts.json), () => human(profile));
    });
}
