// Parse and format each message the way Home Assistant's frontend localize() does:
// new IntlMessageFormat(text, language).format(placeholders). Reads
// [{id, text, locale}] as JSON on stdin; writes [{id, args, rendered} | {id, error}].
import { IntlMessageFormat } from "intl-messageformat";

function argumentNames(elements, names) {
  for (const element of elements) {
    // 0 literal, 7 pound: no argument; 8 tag; 5 select / 6 plural carry options.
    if (element.type === 0 || element.type === 7) continue;
    if (element.value !== undefined && element.type !== 8) names.add(element.value);
    if (element.children) argumentNames(element.children, names);
    for (const option of Object.values(element.options ?? {})) argumentNames(option.value, names);
  }
  return names;
}

let input = "";
for await (const chunk of process.stdin) input += chunk;
const results = JSON.parse(input).map(({ id, text, locale }) => {
  try {
    const message = new IntlMessageFormat(text, locale);
    const args = [...argumentNames(message.getAst(), new Set())].sort();
    const values = Object.fromEntries(args.map((name) => [name, `«${name}»`]));
    return { id, args, rendered: String(message.format(values)) };
  } catch (err) {
    return { id, error: err.message };
  }
});
process.stdout.write(JSON.stringify(results));
