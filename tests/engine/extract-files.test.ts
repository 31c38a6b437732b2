import { describe, expect, it } from 'vitest';
import { extractFiles } from '../../src/engine/extract-files.js';

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
    expect(extractFiles(text)).toEqual([
      { path: 'pom.xml', content: '<project>\n  <modelVersion>4.0.0</modelVersion>\n</project>\n' },
      { path: 'src/main/java/App.java', content: 'class App {}\n' },
    ]);
  });

  it('strips a fence the model wrapped around a FILE block', () => {
    const text = ['=== FILE: pom.xml ===', '```xml', '<project/>', '```', '=== END FILE ==='].join('\n');
    expect(extractFiles(text)).toEqual([{ path: 'pom.xml', content: '<project/>\n' }]);
  });

  it('keeps fences inside a FILE block that are part of the content', () => {
    const text = ['=== FILE: README.md ===', '# App', '', '```bash', 'mvn test', '```', '', 'Done.', '=== END FILE ==='].join('\n');
    expect(extractFiles(text)).toEqual([{ path: 'README.md', content: '# App\n\n```bash\nmvn test\n```\n\nDone.\n' }]);
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
    expect(extractFiles(text)).toEqual([
      { path: 'pom.xml', content: '<project/>\n' },
      { path: 'src/main/java/App.java', content: 'class App {}\n' },
      { path: 'src/x/Y.java', content: 'class Y {}\n' },
      { path: 'src/main/resources/application.properties', content: 'quarkus.http.port=8080\n' },
      { path: 'Dockerfile', content: 'FROM scratch\n' },
      { path: 'src/test/java/AppTest.java', content: 'class AppTest {}\n' },
      { path: 'README.md', content: 'Hello\n' },
    ]);
  });

  it('does not take a file name mentioned in passing for a path line', () => {
    const text = ['Set the port in `application.properties` if needed', '```properties', 'quarkus.http.port=8081', '```'].join('\n');
    expect(extractFiles(text)).toEqual([]);
  });

  it('ignores fenced blocks with no path line before them', () => {
    const text = ['Run it with:', '```bash', 'mvn test', '```', 'The layout:', '```', 'src/', '  App.java', '```'].join('\n');
    expect(extractFiles(text)).toEqual([]);
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
    expect(extractFiles(text)).toEqual([
      { path: 'pom.xml', content: '<project>new</project>\n' },
      { path: 'App.java', content: 'class App {}\n' },
    ]);
  });

  it('keeps nested fences of a Markdown file together', () => {
    const text = ['README.md', '```markdown', '# App', '```bash', 'mvn test', '```', 'More text', '```', 'after.txt', '```', 'x', '```'].join('\n');
    expect(extractFiles(text)).toEqual([
      { path: 'README.md', content: '# App\n```bash\nmvn test\n```\nMore text\n' },
      { path: 'after.txt', content: 'x\n' },
    ]);
  });

  it('honours longer fences around shorter ones', () => {
    const text = ['docs/guide.md', '````', 'Example:', '```', 'code', '```', '````'].join('\n');
    expect(extractFiles(text)).toEqual([{ path: 'docs/guide.md', content: 'Example:\n```\ncode\n```\n' }]);
  });

  it('reads FILE blocks the model wrapped in one big fence, and a block without an END line', () => {
    const text = ['```', '=== FILE: a.txt ===', 'A', '=== END FILE ===', '=== FILE: b.txt ===', 'B', '```'].join('\n');
    expect(extractFiles(text)).toEqual([
      { path: 'a.txt', content: 'A\n' },
      { path: 'b.txt', content: 'B\n```\n' },
    ]);
  });

  it('handles CRLF line ends and a leading ./', () => {
    expect(extractFiles('=== FILE: ./pom.xml ===\r\n<project/>\r\n=== END FILE ===\r\n')).toEqual([{ path: 'pom.xml', content: '<project/>\n' }]);
  });

  it('returns paths as written so the workspace can refuse hostile ones', () => {
    const text = ['=== FILE: ../../etc/cron.d/x ===', 'x', '=== END FILE ===', '### /etc/profile.d/evil.sh', '```', 'echo pwned', '```'].join('\n');
    expect(extractFiles(text).map((file) => file.path)).toEqual(['../../etc/cron.d/x', '/etc/profile.d/evil.sh']);
  });

  it('finds no files in prose', () => {
    expect(extractFiles('I cannot help with that. Version 1.0.0 is out.')).toEqual([]);
    expect(extractFiles('')).toEqual([]);
  });
});
