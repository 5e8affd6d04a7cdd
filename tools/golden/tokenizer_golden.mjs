// Writes testdata/tokenizer_golden.json: ids from Hugging Face's tokenizers.js
// for every SST-2 dev sentence and a set of edge cases. No truncation here
// (tokenizers.js drops [SEP] when truncating; Python keeps it), so the Go test
// checks full encodings and truncation separately.
// Usage: node tools/golden/tokenizer_golden.mjs ../shared/models/distilbert-tiny ../shared/data/sst2/dev.tsv testdata/tokenizer_golden.json
import { readFileSync, writeFileSync } from "node:fs";
import { Tokenizer } from "@huggingface/tokenizers";

const [modelDir, devTsv, out] = process.argv.slice(2);
const tok = new Tokenizer(
  JSON.parse(readFileSync(`${modelDir}/tokenizer.json`, "utf8")),
  JSON.parse(readFileSync(`${modelDir}/tokenizer_config.json`, "utf8")),
);
const dev = readFileSync(devTsv, "utf8").split("\n").slice(1).filter((l) => l.length > 0).map((l) => l.split("\t")[0]);
const edge = [
  "Café crème brûlée, naïve façade, São Paulo, Ærøskøbing, Ångström",
  "non\u00a0breaking\u00a0spaces and\u2009thin\u2009ones",
  "emoji 😀🎬👍🏽 and ❤️ hearts",
  "ÉCOLE ÜBER ÇA",
  "中文字符测试 mixed with english",
  "tabs\tand\nnewlines\r\nand \u0000 control \u0007 chars",
  "zero\u200bwidth\u200cjoiners",
  "Ｆｕｌｌｗｉｄｔｈ ｌｅｔｔｅｒｓ",
  "combining e\u0301 and precomposed é",
  "supercalifragilisticexpialidocious antidisestablishmentarianism",
  "x".repeat(120) + " a word longer than max_input_chars_per_word",
  "punctuation!!! ... ?? -- 'quotes' \"double\" (parens) [brackets] {braces}",
  "numbers 1,234.56 and 3rd 21st 1990s",
  "Ǆemal İstanbul ß ﬁ ligatures",
  "",
  "   ",
  Array.from({ length: 200 }, (_, i) => `word${i}`).join(" "),
];
const enc = (s) => tok.encode(s, { add_special_tokens: true }).ids;
writeFileSync(out, JSON.stringify({
  source: "@huggingface/tokenizers 0.2.0 on distilbert-tiny tokenizer.json (bert-base-uncased vocabulary), add_special_tokens, no truncation",
  dev: dev.map((s) => ({ text: s, ids: enc(s) })),
  edge: edge.map((s) => ({ text: s, ids: enc(s) })),
}));
console.log(`wrote ${out}: ${dev.length} dev + ${edge.length} edge cases`);
