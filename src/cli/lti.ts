import type { Command } from 'commander';
import { z } from 'zod';
import { type PlatformAdmin, withPlatformAdmin } from '../app/platforms';
import { toolConfig } from '../lms/tool-config';
import { loadConfig } from '../config';
import { invalid } from '../domain/errors';
import { output, type WithContext } from './command';

const url = (name: string) =>
  z.string({ error: `--${name} is required` }).refine((v) => URL.canParse(v) && /^https?:$/.test(new URL(v).protocol), `--${name}: expected an http(s) URL`);

const addOptions = z.object({
  issuer: url('issuer'),
  clientId: z.string({ error: '--client-id is required' }).min(1, '--client-id is required'),
  deploymentId: z.array(z.string().min(1)).min(1, 'at least one --deployment-id is required'),
  authEndpoint: url('auth-endpoint'),
  tokenEndpoint: url('token-endpoint'),
  jwksUrl: url('jwks-url'),
  name: z.string().optional(),
  inactive: z.boolean().optional(),
  json: z.boolean().optional(),
});

function parse<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw invalid(result.error.issues.map((i) => i.message).join('; '));
  return result.data;
}

function ltiAdmin(withContext: WithContext) {
  return <T>(run: (admin: PlatformAdmin) => Promise<T>) => withContext((ctx) => withPlatformAdmin(ctx, run));
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** `socle platforms add|list|activate|deactivate|remove` and `socle lti config`. */
export function registerLtiCommands(program: Command, withContext: WithContext): void {
  const withLti = ltiAdmin(withContext);
  const platforms = program.command('platforms').description('LTI 1.3 platforms (Moodle sites) allowed to launch Socle');

  platforms
    .command('add')
    .description("register a platform by hand (Moodle: the values of the tool's \"Tool configuration details\")")
    .option('--issuer <url>', 'platform ID (iss), Moodle: its wwwroot')
    .option('--client-id <id>', 'client ID given by the platform')
    .option('--deployment-id <id>', 'deployment ID (repeat for several)', collect)
    .option('--auth-endpoint <url>', 'authentication request URL (Moodle: …/mod/lti/auth.php)')
    .option('--token-endpoint <url>', 'access token URL (Moodle: …/mod/lti/token.php)')
    .option('--jwks-url <url>', 'public keyset URL (Moodle: …/mod/lti/certs.php)')
    .option('--name <name>', 'a name to display')
    .option('--inactive', 'register without allowing launches yet')
    .option('--json', 'print JSON')
    .action(async (raw: unknown) => {
      const o = parse(addOptions, { deploymentId: [], ...(raw as object) });
      const listed = await withLti(async (admin) => {
        await admin.register({
          issuer: o.issuer,
          clientId: o.clientId,
          deploymentIds: o.deploymentId,
          authEndpoint: o.authEndpoint,
          tokenEndpoint: o.tokenEndpoint,
          jwksUrl: o.jwksUrl,
          ...(o.name ? { name: o.name } : {}),
          active: !o.inactive,
        });
        return (await admin.list(o.issuer)).find((p) => p.clientId === o.clientId);
      });
      output(listed, Boolean(o.json), () => `registered ${listed?.issuer} client ${listed?.clientId} (${listed?.active ? 'active' : 'inactive'})`);
    });

  platforms
    .command('list')
    .description('list registered platforms')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const list = await withLti((admin) => admin.list());
      output(list, Boolean(o.json), () =>
        list.length
          ? list
              .map((p) => `${p.issuer}\tclient ${p.clientId}\tdeployments ${p.deploymentIds.join(',') || '-'}\t${p.active ? 'active' : 'inactive'}`)
              .join('\n')
          : 'no platform registered',
      );
    });

  for (const [name, active] of [
    ['activate', true],
    ['deactivate', false],
  ] as const) {
    platforms
      .command(name)
      .description(active ? 'allow launches from a platform' : 'refuse launches from a platform (keeps its data)')
      .requiredOption('--issuer <url>', 'platform issuer')
      .requiredOption('--client-id <id>', 'client ID')
      .action(async (o: { issuer: string; clientId: string }) => {
        await withLti((admin) => admin.setActive(o.issuer, o.clientId, active));
        process.stdout.write(`${o.issuer} client ${o.clientId}: ${active ? 'active' : 'inactive'}\n`);
      });
  }

  platforms
    .command('remove')
    .description("forget a platform registration (its keys and deployments; users' records are kept)")
    .requiredOption('--issuer <url>', 'platform issuer')
    .requiredOption('--client-id <id>', 'client ID')
    .action(async (o: { issuer: string; clientId: string }) => {
      await withLti((admin) => admin.remove(o.issuer, o.clientId));
      process.stdout.write(`${o.issuer} client ${o.clientId}: removed\n`);
    });

  program
    .command('lti')
    .description('LTI tool settings')
    .command('config')
    .description('the values to paste into Moodle\'s "Configure a tool manually" form')
    .option('--json', 'print JSON')
    .action((o: { json?: boolean }) => {
      const c = toolConfig(loadConfig());
      output(c, Boolean(o.json), () =>
        [
          `Tool name                 ${c.toolName}`,
          `Tool URL                  ${c.toolUrl}`,
          `LTI version               ${c.ltiVersion}`,
          `Public key type           ${c.publicKeyType}`,
          `Public keyset             ${c.jwksUrl}`,
          `Initiate login URL        ${c.loginUrl}`,
          `Redirection URI(s)        ${c.redirectUris.join(' ')}`,
          `Supports Deep Linking     yes`,
          `Content Selection URL     ${c.deepLinkingUrl}`,
          `Custom parameters         ${c.customParameters.replace(/\n/g, ' ')}`,
          `IMS LTI Assignment and Grade Services   ${c.services.gradeSync}`,
          `IMS LTI Names and Role Provisioning     ${c.services.memberships}`,
          `Share launcher's name / email           yes (display only)`,
          '',
          `Dynamic registration: paste ${c.dynamicRegistrationUrl} as "Tool URL" in Site administration › Plugins › External tool › Manage tools.`,
        ].join('\n'),
      );
    });
}
