import { describe, expect, it } from 'vitest';
import { extractFiles } from '../../src/engine/extract-files.js';

/** The files found, as path and content (their line numbers are checked separately). */
function filesOf(text: string): Array<{ path: string; content: string }> {
  return extractFiles(text).files.map(({ path, content }) => ({ path, content }));
}

describe('extractFiles', () => {
  it('reads === FILE === blocks', () => {
    const text = [
      'Here is the project.',
      '=== FILE: pom.xml ===',
      '<project>',
      '  <modelVersion>4.0.0</modelVersion>',
      '</project>',
      '=== END FILE ===',
      '',
      '=== FILE: src/main/java/App.java ===',
      'class App {}',
      '=== END FILE ===',
    ].join('\n');
    expect(filesOf(text)).toEqual([
      { path: 'pom.xml', content: '<project>\n  <modelVersion>4.0.0</modelVersion>\n</project>\n' },
      { path: 'src/main/java/App.java', content: 'class App {}\n' },
    ]);
  });

  it('strips a fence the model wrapped around a FILE block', () => {
    const text = ['=== FILE: pom.xml ===', '```xml', '<project/>', '```', '=== END FILE ==='].join('\n');
    expect(filesOf(text)).toEqual([{ path: 'pom.xml', content: '<project/>\n' }]);
  });

  it('keeps fences inside a FILE block that are part of the content', () => {
    const text = ['=== FILE: README.md ===', '# App', '', '```bash', 'mvn test', '```', '', 'Done.', '=== END FILE ==='].join('\n');
    expect(filesOf(text)).toEqual([{ path: 'README.md', content: '# App\n\n```bash\nmvn test\n```\n\nDone.\n' }]);
  });

  it('reads a path line followed by a fenced block, in the shapes models write', () => {
    const text = [
      'pom.xml',
      '```xml',
      '<project/>',
      '```',
      '**src/main/java/App.java**',
      '```java',
      'class App {}',
      '```',
      '### src/x/Y.java',
      '',
      '```java',
      'class Y {}',
      '```',
      'File: src/main/resources/application.properties',
      '```properties',
      'quarkus.http.port=8080',
      '```',
      '`Dockerfile`',
      '~~~',
      'FROM scratch',
      '~~~',
      '2. **File:** `src/test/java/AppTest.java`:',
      '```java',
      'class AppTest {}',
      '```',
      'Then update `README.md` as follows:',
      '```markdown',
      'Hello',
      '```',
    ].join('\n');
    expect(filesOf(text)).toEqual([
      { path: 'pom.xml', content: '<project/>\n' },
      { path: 'src/main/java/App.java', content: 'class App {}\n' },
      { path: 'src/x/Y.java', content: 'class Y {}\n' },
      { path: 'src/main/resources/application.properties', content: 'quarkus.http.port=8080\n' },
      { path: 'Dockerfile', content: 'FROM scratch\n' },
      { path: 'src/test/java/AppTest.java', content: 'class AppTest {}\n' },
      { path: 'README.md', content: 'Hello\n' },
    ]);
  });

  it('does not take a file name mentioned in passing for a path line, and says so', () => {
    const text = ['Set the port in `application.properties` if needed', '```properties', 'quarkus.http.port=8081', '```'].join('\n');
    const { files, skipped } = extractFiles(text);
    expect(files).toEqual([]);
    expect(skipped).toEqual([{ path: 'application.properties', line: 2, reason: expect.stringContaining('does not introduce the block as that file') }]);
  });

  it('ignores fenced blocks with no path line before them', () => {
    const text = ['Run it with:', '```bash', 'mvn test', '```', 'The layout:', '```', 'src/', '  App.java', '```'].join('\n');
    expect(filesOf(text)).toEqual([]);
  });

  it('reads both formats mixed in one answer, the later duplicate winning', () => {
    const text = [
      '=== FILE: pom.xml ===',
      '<project>old</project>',
      '=== END FILE ===',
      '**App.java**',
      '```java',
      'class App {}',
      '```',
      '=== FILE: pom.xml ===',
      '<project>new</project>',
      '=== END FILE ===',
    ].join('\n');
    expect(filesOf(text)).toEqual([
      { path: 'App.java', content: 'class App {}\n' },
      { path: 'pom.xml', content: '<project>new</project>\n' },
    ]);
    expect(extractFiles(text).skipped).toEqual([{ path: 'pom.xml', line: 1, reason: 'a later block in the answer names the same file; the later one was written' }]);
  });

  it('keeps nested fences of a Markdown file together', () => {
    const text = ['README.md', '```markdown', '# App', '```bash', 'mvn test', '```', 'More text', '```', 'after.txt', '```', 'x', '```'].join('\n');
    expect(filesOf(text)).toEqual([
      { path: 'README.md', content: '# App\n```bash\nmvn test\n```\nMore text\n' },
      { path: 'after.txt', content: 'x\n' },
    ]);
  });

  it('honours longer fences around shorter ones', () => {
    const text = ['docs/guide.md', '````', 'Example:', '```', 'code', '```', '````'].join('\n');
    expect(filesOf(text)).toEqual([{ path: 'docs/guide.md', content: 'Example:\n```\ncode\n```\n' }]);
  });

  it('reads FILE blocks the model wrapped in one big fence: its closing fence ends the last block', () => {
    const text = ['```', '=== FILE: a.txt ===', 'A', '=== END FILE ===', '=== FILE: b.txt ===', 'B', '```'].join('\n');
    expect(extractFiles(text)).toEqual({
      files: [
        { path: 'a.txt', content: 'A\n', line: 2 },
        { path: 'b.txt', content: 'B\n', line: 5 },
      ],
      skipped: [],
    });
  });

  it('takes the next FILE line as the end of a block without its END line', () => {
    const text = ['=== FILE: a.txt ===', 'A', '=== FILE: b.txt ===', 'B', '=== END FILE ==='].join('\n');
    expect(filesOf(text)).toEqual([
      { path: 'a.txt', content: 'A\n' },
      { path: 'b.txt', content: 'B\n' },
    ]);
  });

  it('handles CRLF line ends and a leading ./', () => {
    expect(filesOf('=== FILE: ./pom.xml ===\r\n<project/>\r\n=== END FILE ===\r\n')).toEqual([{ path: 'pom.xml', content: '<project/>\n' }]);
  });

  it('returns paths as written so the workspace can refuse hostile ones', () => {
    const text = ['=== FILE: ../../etc/cron.d/x ===', 'x', '=== END FILE ===', '### /etc/profile.d/evil.sh', '```', 'echo pwned', '```'].join('\n');
    expect(filesOf(text).map((file) => file.path)).toEqual(['../../etc/cron.d/x', '/etc/profile.d/evil.sh']);
  });

  it('reads a path in the fence\'s info string', () => {
    const text = [
      '```java:src/main/java/App.java',
      'class App {}',
      '```',
      '```xml title="pom.xml"',
      '<project/>',
      '```',
      "```properties filename='src/main/resources/application.properties'",
      'quarkus.http.port=8080',
      '```',
      '```xml src/main/resources/beans.xml',
      '<beans/>',
      '```',
      '```src/test/java/AppTest.java',
      'class AppTest {}',
      '```',
      '```Dockerfile',
      'FROM scratch',
      '```',
    ].join('\n');
    expect(filesOf(text)).toEqual([
      { path: 'src/main/java/App.java', content: 'class App {}\n' },
      { path: 'pom.xml', content: '<project/>\n' },
      { path: 'src/main/resources/application.properties', content: 'quarkus.http.port=8080\n' },
      { path: 'src/main/resources/beans.xml', content: '<beans/>\n' },
      { path: 'src/test/java/AppTest.java', content: 'class AppTest {}\n' },
    ]);
  });

  it('reads a first line inside the fence that names the path, and leaves it out of the content', () => {
    const text = [
      '```java',
      '// File: src/main/java/App.java',
      'class App {}',
      '```',
      '```properties',
      '# File: src/main/resources/application.properties',
      'quarkus.http.port=8080',
      '```',
      '```xml',
      '<!-- File: pom.xml -->',
      '<?xml version="1.0"?>',
      '<project/>',
      '```',
      '```java',
      '// src/test/java/AppTest.java',
      'class AppTest {}',
      '```',
      '```css',
      '/* src/main/resources/META-INF/resources/style.css */',
      'body {}',
      '```',
      '```sql',
      '-- file: src/main/resources/import.sql',
      'insert into t values (1);',
      '```',
    ].join('\n');
    expect(filesOf(text)).toEqual([
      { path: 'src/main/java/App.java', content: 'class App {}\n' },
      { path: 'src/main/resources/application.properties', content: 'quarkus.http.port=8080\n' },
      { path: 'pom.xml', content: '<?xml version="1.0"?>\n<project/>\n' },
      { path: 'src/test/java/AppTest.java', content: 'class AppTest {}\n' },
      { path: 'src/main/resources/META-INF/resources/style.css', content: 'body {}\n' },
      { path: 'src/main/resources/import.sql', content: 'insert into t values (1);\n' },
    ]);
  });

  it('does not take ordinary first lines for paths', () => {
    const text = [
      '```bash',
      '#!/bin/sh',
      'mvn test',
      '```',
      '```c',
      '#include <stdio.h>',
      '```',
      '```java',
      '// eslint-disable-next-line',
      '```',
      'README.md',
      '```markdown',
      '# README.md',
      'Text',
      '```',
    ].join('\n');
    expect(filesOf(text)).toEqual([{ path: 'README.md', content: '# README.md\nText\n' }]);
  });

  it('reads a heading with a note after the path, and a heading followed by a line of prose', () => {
    const text = [
      '### `pom.xml` (Maven build)',
      '```xml',
      '<project/>',
      '```',
      '### 2. src/main/java/App.java — the entry point',
      '```java',
      'class App {}',
      '```',
      '### src/main/resources/application.properties',
      'The configuration, with the OpenTelemetry exporter.',
      '',
      '```properties',
      'quarkus.otel.enabled=true',
      '```',
      '**src/test/java/AppTest.java**',
      'A test of the query.',
      '```java',
      'class AppTest {}',
      '```',
    ].join('\n');
    expect(filesOf(text)).toEqual([
      { path: 'pom.xml', content: '<project/>\n' },
      { path: 'src/main/java/App.java', content: 'class App {}\n' },
      { path: 'src/main/resources/application.properties', content: 'quarkus.otel.enabled=true\n' },
      { path: 'src/test/java/AppTest.java', content: 'class AppTest {}\n' },
    ]);
  });

  it('reads a mixed answer whole: one file in each common shape', () => {
    const text = [
      "Here's the project.",
      '',
      '### `pom.xml` (Maven build)',
      '```xml',
      '<project/>',
      '```',
      '',
      'Main class:',
      '```java',
      '// File: src/main/java/App.java',
      'class App {}',
      '```',
      '',
      '```java:src/test/java/AppTest.java',
      'class AppTest {}',
      '```',
    ].join('\n');
    expect(extractFiles(text).files.map((file) => [file.path, file.line])).toEqual([
      ['pom.xml', 4],
      ['src/main/java/App.java', 9],
      ['src/test/java/AppTest.java', 14],
    ]);
  });

  it('never writes a block the answer ends inside, and says which and why', () => {
    const cutInFileBlock = ['=== FILE: a.txt ===', 'A', '=== END FILE ===', '=== FILE: pom.xml ===', '<project>', '  <dependencies>'].join('\n');
    expect(extractFiles(cutInFileBlock)).toEqual({
      files: [{ path: 'a.txt', content: 'A\n', line: 1 }],
      skipped: [{ path: 'pom.xml', line: 4, reason: 'the answer ended inside it, before its "=== END FILE ===" line, so the file would be incomplete' }],
    });
    const cutInFence = ['### pom.xml', '```xml', '<project>', '  <dependencies>'].join('\n');
    expect(extractFiles(cutInFence)).toEqual({
      files: [],
      skipped: [{ path: 'pom.xml', line: 2, reason: 'the answer ended before its closing fence, so the file would be incomplete' }],
    });
    const cutInWrapper = ['```', '=== FILE: a.txt ===', 'A', '=== END FILE ===', '=== FILE: b.txt ===', 'B'].join('\n');
    expect(extractFiles(cutInWrapper).skipped.map((block) => block.path)).toEqual(['b.txt']);
    expect(filesOf(cutInWrapper)).toEqual([{ path: 'a.txt', content: 'A\n' }]);
  });

  it('finds no files in prose', () => {
    expect(filesOf('I cannot help with that. Version 1.0.0 is out.')).toEqual([]);
    expect(filesOf('')).toEqual([]);
  });
});
