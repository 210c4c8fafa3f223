/**
 * One headline figure of a benchmark, printed as one machine-readable line that `bench/run.ts` collects into its
 * summary: `FIGURE {"name":…,"value":…,"unit":…,"target":…,"reference":…,"ratio":…,"meets":…}`.
 * `ratio` (value over the reference measured in the same run) and `meets` (the target is met) are null when they
 * do not apply; `value` and `ratio` are rounded to three decimals.
 */
export function figure(f: {
  name: string;
  value: number;
  unit: string;
  target?: string;
  reference?: string;
  ratio?: number | null;
  meets?: boolean | null;
}): void {
  const round = (v: number) => Math.round(v * 1000) / 1000;
  const ratio = f.ratio === undefined || f.ratio === null ? null : round(f.ratio);
  process.stdout.write(`FIGURE ${JSON.stringify({ ...f, value: round(f.value), ratio, meets: f.meets ?? null })}\n`);
}
