/* eslint-disable no-control-regex -- finding control characters is the point of this module */
/**
 * Terminal escape sequences: CSI (`ESC [` or 0x9B … final byte), string
 * commands such as OSC/DCS/APC/PM/SOS (up to BEL or ST, or to the end if
 * unterminated), and two-character escapes.
 */
const ESCAPE_SEQUENCE = /(?:\u001b\[|\u009b)[0-?]*[ -/]*[@-~]?|(?:\u001b[\]PX^_]|[\u0090\u0098\u009d-\u009f])[^\u0007\u001b\u009c]*(?:\u0007|\u001b\\|\u009c)?|\u001b[ -~]?/g;
/** C0 and C1 controls, DEL, and the bidirectional formatting characters that can reorder what a terminal shows. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
/* eslint-enable no-control-regex */

/**
 * Makes a server-provided string safe to print on a terminal: removes ANSI
 * escape sequences whole, then every remaining control or bidi character.
 */
export function sanitizeText(text: string): string {
  return text.replace(ESCAPE_SEQUENCE, '').replace(CONTROL, '');
}
