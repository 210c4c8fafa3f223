/**
 * Debian's Chromium driven by playwright-core, for the pages' browser tests and the screenshots of docs/. Its flags
 * on these machines: no sandbox (run as root), and no background networking (the network is closed: Chromium's own
 * connections would be refused at every start).
 */
import fs from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/** A headless Chromium with those flags and `extraFlags`; a clear error when the package is missing. */
export async function launchChromium(extraFlags: string[] = []): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_FLAGS, ...extraFlags] });
}
