// Writes generated.json: Content-Types with each byte a header can hold
// in each part of the value, and the ways pages write their parameters,
// each with what the MIME Sniffing Standard's parser makes of it, as
// Node's util.MIMEType implements it. Run with Node 20 or later:
//
//	node testdata/mimesniff/generate.js > testdata/mimesniff/generated.json
//
// A header's bytes are read one code point each (isomorphic decoding),
// so an input is a string of code points up to U+00FF, one per byte.
'use strict';
const { MIMEType } = require('util');

const cases = [];
const seen = new Set();
function add(input) {
  if (seen.has(input)) return;
  seen.add(input);
  let output = null, essence = null, charset = null, encoding = null;
  try {
    const m = new MIMEType(input);
    output = m.toString();
    essence = m.essence;
    charset = m.params.has('charset') ? m.params.get('charset') : null;
    if (charset !== null) {
      try {
        encoding = new TextDecoder(charset).encoding;
      } catch {
        encoding = null;
      }
    }
  } catch {
    // not a MIME type
  }
  const c = { input, output };
  if (essence !== null) c.essence = essence;
  if (charset !== null) c.charset = charset;
  if (encoding !== null) c.encoding = encoding;
  cases.push(c);
}

// utf8 is the string a header holds for s written in UTF-8, one code
// point per byte.
function utf8(s) {
  return String.fromCharCode(...Buffer.from(s, 'utf8'));
}

// Every byte, in every part of a Content-Type.
const places = [
  'C/html;charset=gbk', 'Ctext/html;charset=gbk', 'teCxt/html;charset=gbk', 'textC/html;charset=gbk',
  'text/Chtml;charset=gbk', 'text/htCml;charset=gbk', 'text/htmlC;charset=gbk', 'text/htmlC',
  'text/html;Ccharset=gbk', 'text/html;chaCrset=gbk', 'text/html;charsetC=gbk', 'text/html;charset=Cgbk',
  'text/html;charset=gCbk', 'text/html;charset=gbkC', 'text/html;charset=gbkC;charset=windows-1255',
  'text/html;charset="Cgbk"', 'text/html;charset="gbkC"', 'text/html;charset="gbk"C',
  'text/html;charset=C;charset=gbk', 'text/html;charset="C";charset=gbk', 'text/html;x=C;charset=gbk',
  'text/html;x="C;charset=windows-1255";charset=gbk', 'text/html;charset=gbk;C',
  'application/jsCon', 'application/jsonC', 'Capplication/json', 'application/json;Ccharset=gbk',
  'x/yC+json', 'x/y+jsonC', 'text/jsonC', 'application/xhtml+xmlC', 'Capplication/xhtml+xml',
];
for (let c = 0; c <= 0xff; c++) {
  for (const p of places) add(p.replace('C', String.fromCharCode(c)));
}

// Code points past U+00FF arrive as their UTF-8 bytes: the spaces and
// line breaks Unicode has past ASCII, the byte order mark.
for (const c of ['\u0085', '\u00a0', '\u1680', '\u2000', '\u2028', '\u2029', '\u202f', '\u3000', '\ufeff', 'é', 'ſ', 'K']) {
  for (const p of places) add(p.replace('C', utf8(c)));
}

// Whitespace of each kind, alone and in runs, around each separator.
const ws = [' ', '\t', '\n', '\r', '\f', '\v', '  ', ' \t', '\r\n', '\r\n ', '\n\r\t '];
for (const w of ws) {
  for (const p of ['Wtext/html;charset=gbk', 'text/html;charset=gbkW', 'textW/html', 'text/Whtml', 'text/htmlW;charset=gbk',
    'text/html;Wcharset=gbk', 'text/html;charsetW=gbk', 'text/html;charset=Wgbk', 'text/html;charset=gbkW;x=y',
    'text/html;charset="gbkW"', 'text/html;charset="Wgbk"', 'text/htmlW', 'application/jsonW', 'Wapplication/json',
    'text/html;charset=W;charset=gbk', 'text/html;charset=W"gbk"', 'text/html;charset="gbk"W', 'text/html;charset="gbk"W;charset=windows-1255']) {
    add(p.replaceAll('W', w));
  }
}

// Quotes and backslashes.
for (const v of ['"gbk"', '"gbk', 'gbk"', '"g"bk', 'g"b"k', '"\\gbk"', '"gb\\k"', '"gbk\\"', '"gbk\\', '"\\"gbk"',
  '"g\\"bk"', '""', '"', '"\\', '\\gbk', 'gbk\\', "'gbk'", '"\'gbk\'"', '"gbk";x', '"gbk"x', '"gbk" ', ' "gbk"',
  '"gbk;charset=windows-1255"', '"windows-1255";charset=gbk', '"\\"', '"\\\\"', '"gbk"";charset=windows-1255',
  " 'gbk'", "\t'gbk'", ' "gbk', ' "gbk";charset=windows-1255', " 'gbk';charset=windows-1255"]) {
  add('text/html;charset=' + v);
  add('text/html;x=' + v + ';charset=windows-1255');
}

// Duplicate, empty, valueless and long parameters; case; separators.
for (const s of ['text/html;charset=gbk;charset=windows-1255', 'text/html;charset=windows-1255;charset=gbk',
  'text/html;CHARSET=gbk;charset=windows-1255', 'text/html;charset=;charset=gbk', 'text/html;charset;charset=gbk',
  'text/html;charset= ;charset=gbk', 'text/html;charset="";charset=gbk', 'text/html;charset=gbk;charset=',
  'text/html;charset=gbk;;;', 'text/html;;charset=gbk', 'text/html;=gbk;charset=windows-1255', 'text/html;=;charset=gbk',
  'text/html;charset==gbk', 'text/html;charset=gbk=', 'text/html;charset=g=bk', 'text/html;charset=gbk,text/plain',
  'text/html;charset=gbk, charset=windows-1255', 'text/html;Charset=GBK', 'TEXT/HTML;CHARSET="GBK"', 'Text/Html',
  'text/html;charset=utf-8', 'text/html; charset=utf-8', 'text/html; charset=UTF-8', 'text/html;charset="utf-8"',
  'text/html; charset=utf-8; charset=iso-2022-jp', 'text/html; charset=iso-2022-jp; charset=utf-8',
  'text/html;foo=";charset=utf-8";charset=iso-2022-jp', 'text/html;foo=";charset=iso-2022-jp";charset=utf-8',
  'text/html;charset="utf-8', 'text/html;charset=iso-8859-1', 'text/html;charset=latin1', 'text/html;charset=shift_jis',
  'text/html;charset=x-user-defined', 'text/html;charset=replacement', 'text/html;charset=iso-2022-kr',
  'text/html;charset=utf-16', 'text/html;charset=utf-16le', 'text/html;charset=iso-2022-jp', 'text/html;charset=unicode',
  'text/html;charset=no-such-encoding', 'text/html;charset=gbk(comment)', 'text/html;charset=gbk (comment)',
  'text/html (comment);charset=gbk', 'text/html;charset=gbk;x=(', 'text/html;' + 'x'.repeat(200) + '=y;charset=gbk',
  'text/html;charset=' + 'x'.repeat(200), 'text/html;x=' + 'y'.repeat(1000) + ';charset=gbk',
  'text/html' + ';x=y'.repeat(100) + ';charset=gbk', 'text/html;charset=gbk' + ';charset=windows-1255'.repeat(50),
  'text/plain', 'text/plain;charset=gbk', 'text/xml', 'application/xhtml+xml', 'image/svg+xml', 'text/html+xml',
  'text/htm', 'text/html5', 'text/xhtml', 'html', 'text/', '/html', 'text/html/', 'text//html', 'text/html/x',
  '*/*', 'text/*', 'application/json', 'APPLICATION/JSON', 'text/json', 'TEXT/JSON', 'application/ld+json',
  'application/problem+json', 'application/vnd.api+json', 'application/+json', 'x/+json', '/+json', '+json',
  'application/json+', 'application/jsonp', 'application/x-json', 'application/json-seq', 'application/x-ndjson',
  'application/json5', 'application/+JSON', 'application/vnd.a+json;charset=gbk', 'application/json ;x=y',
  'application/js on', 'application /json', 'text/javascript', 'application/javascript', 'application/octet-stream',
  'application/json, text/html', 'text/html, application/json', 'text/html;x=","',
  // Quotes where the standard reads no quoted string, which Chromium's
  // parser pairs anyway.
  'text/html;x=a";charset=gbk;y="', 'text/html;x= "a;charset=gbk', 'text/html;x=a"b;charset=gbk', 'text/html;x="a"b";charset=gbk',
  'text/html;x="a\\";charset=gbk', 'text/html;x"=a;charset=gbk', 'text/html;"x=a;charset=gbk"', 'text/html;x="a"";charset=gbk;y="',
  'text/html;charset=gbk;x=a"', 'text/html;x=a";charset=gbk', 'text/html;x= "a";charset=gbk', 'text/html;x="a" ";charset=gbk;"']) {
  add(s);
}

process.stdout.write('[\n' + cases.map((c) => '  ' + JSON.stringify(c)).join(',\n') + '\n]\n');
