// JSON schemas the constrained-decoding tests and the grammar bench use. OBJECT_SCHEMAS need '{' and '['
// (stories260K's vocabulary has them); VALUE_SCHEMAS need neither (tinystories-656k's 2,048 tokens have no
// braces or brackets). Between them every supported keyword appears.

export const OBJECT_SCHEMAS: Record<string, unknown> = {
  person: {
    type: 'object',
    properties: {
      name: { type: 'string', minLength: 1, maxLength: 12 },
      age: { type: 'integer', minimum: 0, maximum: 120 },
      email: { type: ['string', 'null'], maxLength: 16 },
      admin: { type: 'boolean' },
    },
    required: ['name', 'age'],
    additionalProperties: false,
  },
  order: {
    type: 'object',
    properties: {
      id: { type: 'string', format: 'uuid' },
      items: {
        type: 'array',
        minItems: 1,
        maxItems: 3,
        items: {
          type: 'object',
          properties: { sku: { type: 'string', pattern: '^[A-Z]{3}-[0-9]{2}$' }, qty: { type: 'integer', exclusiveMinimum: 0, maximum: 9 } },
          required: ['sku', 'qty'],
        },
      },
      total: { type: 'number', minimum: 0, exclusiveMaximum: 1000 },
    },
    required: ['id', 'items', 'total'],
  },
  event: {
    type: 'object',
    properties: {
      kind: { enum: ['meeting', 'call', 'trip'] },
      day: { type: 'string', format: 'date' },
      at: { type: 'string', format: 'time' },
      when: { type: 'string', format: 'date-time' },
      version: { const: 2 },
    },
    required: ['kind', 'day', 'version'],
  },
  tree: {
    $defs: {
      node: {
        type: 'object',
        properties: { label: { type: 'string', maxLength: 6 }, children: { type: 'array', maxItems: 2, items: { $ref: '#/$defs/node' } } },
        required: ['label'],
        additionalProperties: false,
      },
    },
    $ref: '#/$defs/node',
  },
  shapes: {
    type: 'array',
    maxItems: 3,
    items: {
      oneOf: [
        { type: 'object', properties: { circle: { type: 'number', minimum: 0, maximum: 50 } }, required: ['circle'], additionalProperties: false },
        {
          type: 'object',
          properties: { square: { type: 'integer', minimum: 1, maximum: 20 } },
          required: ['square'],
          additionalProperties: false,
        },
      ],
    },
  },
  settings: {
    type: 'object',
    properties: {
      theme: { anyOf: [{ const: 'dark' }, { const: 'light' }, { type: 'null' }] },
      volume: { type: 'number', exclusiveMinimum: -1, maximum: 1 },
      tags: { type: 'array', items: { type: 'string', maxLength: 5 }, maxItems: 4 },
    },
    required: ['theme', 'volume', 'tags'],
  },
};

export const VALUE_SCHEMAS: Record<string, unknown> = {
  count: { type: 'integer', minimum: -20, maximum: 500 },
  score: { type: 'number', minimum: 0, maximum: 10 },
  mood: { enum: ['happy', 'sad', 'tired'] },
  words: { type: 'string', pattern: '^[a-z]+( [a-z]+){0,3}$' },
  maybe: { anyOf: [{ type: 'boolean' }, { type: 'null' }, { type: 'string', minLength: 2, maxLength: 8 }] },
  date: { type: 'string', format: 'date' },
  opening: { const: 'Once upon a time' },
};
