'use strict';
// Node-RED's loader finds a node's editor template, locales and icons next to its compiled .js
// file, so they are copied from nodes/ into dist/nodes/ after tsc.
const fs = require('fs');
const path = require('path');

const src = path.join(__dirname, '..', 'nodes');
const dest = path.join(__dirname, '..', 'dist', 'nodes');

function copy(from, to) {
  const stat = fs.statSync(from);
  if (stat.isDirectory()) {
    fs.mkdirSync(to, { recursive: true });
    for (const entry of fs.readdirSync(from)) copy(path.join(from, entry), path.join(to, entry));
  } else if (!from.endsWith('.ts')) {
    fs.copyFileSync(from, to);
  }
}

fs.mkdirSync(dest, { recursive: true });
for (const entry of fs.readdirSync(src)) {
  const from = path.join(src, entry);
  if (entry.endsWith('.html') || entry === 'locales' || entry === 'icons') copy(from, path.join(dest, entry));
}

// The editor's copy of runtime definitions, generated from the compiled modules (see there).
const { renderEditorResource, RESOURCE_FILE } = require('./editor-resource');
fs.mkdirSync(path.dirname(RESOURCE_FILE), { recursive: true });
fs.writeFileSync(RESOURCE_FILE, renderEditorResource());
