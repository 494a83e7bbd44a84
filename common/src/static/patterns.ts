/**
 * The vocabulary the static rules share: regular expressions for network sends, process starts,
 * decoders, host fingerprints and file writes, as they appear in Python source. Each is bounded (no
 * nested unbounded repeats) so a megabyte-long line costs linear time.
 */

/** A network call: HTTP clients, raw sockets, DNS, FTP/SMTP. */
export const NET_CALL = new RegExp([
  String.raw`\brequests\s*\.\s*(?:get|post|put|patch|request|head)\s*\(`,
  String.raw`\b(?:httpx|aiohttp|urllib3)\s*\.\s*\w+\s*\(`,
  String.raw`urlopen\s*\(`,
  String.raw`\burlretrieve\s*\(`,
  String.raw`\bRequest\s*\(\s*(?:url\s*=\s*)?[fbr]?["']https?:`,
  String.raw`\bHTTPS?Connection\s*\(`,
  String.raw`\bsocket\s*\.\s*(?:socket|create_connection|gethostbyname|getaddrinfo)\s*\(`,
  String.raw`\.(?:connect|sendto|sendall)\s*\(\s*\(`,
  String.raw`\bdns\s*\.\s*resolver\s*\.\s*\w+\s*\(`,
  String.raw`\b(?:FTP|SMTP|SMTP_SSL)\s*\(`,
  String.raw`\bwebbrowser\s*\.\s*open`,
].join('|'));

/** A network call that sends data (POST, DNS of a built name, socket send). */
export const NET_SEND = new RegExp([
  String.raw`\brequests\s*\.\s*(?:post|put|patch)\s*\(`,
  String.raw`\brequests\s*\.\s*get\s*\([^)\n]{0,200}(?:params|data|json|headers)\s*=`,
  String.raw`\bdata\s*=`,
  String.raw`\burlopen\s*\(`,
  String.raw`\.(?:send|sendto|sendall)\s*\(`,
  String.raw`\bgethostbyname\s*\(`,
  String.raw`\bgetaddrinfo\s*\(`,
  String.raw`\bresolver\s*\.\s*(?:resolve|query)\s*\(`,
  String.raw`\.request\s*\(\s*["'](?:POST|GET)["']`,
].join('|'));

/** A process start. */
export const PROC_CALL = new RegExp([
  String.raw`\bos\s*\.\s*(?:system|popen|spawn\w*|exec[lv]p?e?|startfile)\s*\(`,
  String.raw`\bsubprocess\s*\.\s*(?:Popen|call|check_call|check_output|run|getoutput|getstatusoutput)\s*\(`,
  String.raw`(?:^|[^\w.])(?<!(?:class|def)\s+)(?:Popen|check_output|check_call|getoutput)\s*\(`,
  String.raw`\bcommands\s*\.\s*getoutput\s*\(`,
  String.raw`\bpty\s*\.\s*spawn\s*\(`,
].join('|'));

/** A process started with a command that fetches, hides, or runs a shell or interpreter. */
export const SHELL_PAYLOAD = new RegExp([
  String.raw`\b(?:curl|wget)\s+[^\n]{0,200}(?:https?:|\|)`,
  String.raw`\bpowershell`,
  String.raw`\bmshta\b`,
  String.raw`\bcertutil\b`,
  String.raw`\bbitsadmin\b`,
  String.raw`\bnohup\b`,
  String.raw`/dev/tcp/`,
  String.raw`\bnc\s+-[a-z]*e\b`,
  String.raw`\bbash\s+-[ic]\b`,
  String.raw`\bchmod\s+\+?[0-7x]+`,
  String.raw`\bstart\s+/b\b`,
  String.raw`\bcmd(?:\.exe)?\s*/c\b`,
  String.raw`\bstart\s+https?:`,
].join('|'), 'i');

/** A decoder whose output may be code. */
export const DECODER = new RegExp([
  String.raw`\bb(?:64|32|16|85|a85)decode\s*\(`,
  String.raw`\bbase64\s*\.\s*\w*decode`,
  String.raw`\bdecodebytes\s*\(`,
  String.raw`\b(?:zlib|gzip|bz2|lzma)\s*\.\s*decompress\s*\(`,
  String.raw`\bdecompress\s*\(`,
  String.raw`\bmarshal\s*\.\s*loads\s*\(`,
  String.raw`\bcodecs\s*\.\s*decode\s*\([^)\n]{0,400}rot`,
  String.raw`["']rot[_-]?13["']`,
  String.raw`\bfromhex\s*\(`,
  String.raw`\bunhexlify\s*\(`,
  String.raw`__import__\s*\(\s*["'](?:base64|zlib|marshal|codecs|lzma|bz2|gzip|binascii)["']`,
  String.raw`\bFernet\s*\([^)\n]{0,300}\)\s*\.\s*decrypt\s*\(`,
  String.raw`\.decrypt\s*\(`,
  String.raw`\[\s*::\s*-\s*1\s*\]`,
  String.raw`\bbytes\s*\(\s*\[\s*\d+\s*,`,
  String.raw`\bchr\s*\(\s*\w+\s*\)\s*for\b`,
  String.raw`(?:\bchr\s*\(\s*\d+\s*\)\s*\+\s*){4}`,
  String.raw`\bbytearray\s*\.\s*fromhex\s*\(`,
  String.raw`\bpickle\s*\.\s*loads\s*\(`,
  String.raw`\bchr\s*\(\s*(?:ord\s*\()?[^()\n]{0,80}(?:\([^()\n]{0,80}\))?[^()\n]{0,40}\^`,
].join('|'));

/** exec/eval/compile of something. */
export const EXEC_CALL = /(?:^|[^\w.])(?:exec|eval|compile)\s*\(|\bbuiltins\s*\.\s*(?:exec|eval)\s*\(|getattr\s*\(\s*__builtins__|\b__builtins__\s*\.\s*(?:exec|eval)|\[\s*["'](?:exec|eval)["']\s*\]/;

/** A host or user fingerprint (what dependency-confusion probes send home). */
export const FINGERPRINT = new RegExp([
  String.raw`\bgetpass\s*\.\s*getuser\s*\(`,
  String.raw`\bgetuser\s*\(\s*\)`,
  String.raw`\bos\s*\.\s*getlogin\s*\(`,
  String.raw`\bgethostname\s*\(`,
  String.raw`\bplatform\s*\.\s*(?:node|uname|platform)\s*\(`,
  String.raw`\bos\s*\.\s*uname\s*\(`,
  String.raw`\bgetfqdn\s*\(`,
  String.raw`\bos\s*\.\s*environ\b(?!\s*\.\s*(?:get|setdefault)\s*\(\s*["'](?:SETUPTOOLS|PIP|PYTHON|CC|CFLAGS|LDFLAGS|READTHEDOCS|CI|DEBUG|NO_)\w*["'])`,
  String.raw`\bos\s*\.\s*getcwd\s*\(`,
  String.raw`\bgetpwuid\s*\(`,
  String.raw`\bwhoami\b`,
  String.raw`\bipconfig\b|\bifconfig\b`,
  String.raw`\bgeteuid\s*\(|\bgetuid\s*\(`,
  String.raw`\bexpanduser\s*\(\s*["']~["']\s*\)`,
].join('|'));

/** A file opened for writing or written. */
export const FILE_WRITE = /\bopen\s*\([^)\n]{0,300},\s*(?:mode\s*=\s*)?[fbr]?["'][wab]\+?b?["']|\.write_(?:text|bytes)\s*\(|\bshutil\s*\.\s*(?:copy\w*|move)\s*\(|\bos\s*\.\s*(?:rename|replace)\s*\(/;

/** A literal http(s) URL. */
export const URL = /\bhttps?:\/\/[^\s"'<>)\\]{3,}/i;

/** Whether a URL points at a developer-owned place (the usual in benign setup scripts). */
export function ordinaryUrl(u: string): boolean {
  return /^https?:\/\/(?:[\w.-]+\.)?(?:github\.com|githubusercontent\.com|pypi\.org|pythonhosted\.org|python\.org|readthedocs\.(?:io|org)|gitlab\.com|bitbucket\.org|sourceforge\.net|opensource\.org|apache\.org|gnu\.org|example\.(?:com|org))\b/i.test(u);
}
