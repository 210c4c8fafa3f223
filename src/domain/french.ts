/** French typography of generated sentences. */

const VOWEL_OR_H = /^[aeiouàâäéèêëîïôöùûüœæh]/i;
const Y_BEFORE_CONSONANT = /^y[^aeiouyàâäéèêëîïôöùûü]/i;

/**
 * "que" before `next`, elided before a vowel or a mute h: "qu’Inès", "qu’Hélène", "qu’Yves", but "que Yann",
 * "que Marc". An aspirated h (Hugo) cannot be told from the letters: a mute h is assumed.
 */
export function que(next: string): string {
  const s = next.normalize('NFC').trimStart();
  return VOWEL_OR_H.test(s) || Y_BEFORE_CONSONANT.test(s) ? 'qu’' : 'que ';
}
