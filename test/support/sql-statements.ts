/**
 * Every SQL statement the programs' source can send, read from the source itself with the
 * TypeScript compiler: string and template literals that begin with a statement keyword,
 * their `${…}` parts folded in when they name a constant string (SELECT_CHAT, LIVE…), and
 * shown as `⟨expr⟩` when they are computed (a list of placeholders, a batch's rows). A constant
 * used only inside other statements is a fragment, not a statement of its own.
 */
import ts from 'typescript';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

export interface SqlStatement {
  /** Repository-relative path of the file. */
  readonly file: string;
  readonly line: number;
  /** Whitespace collapsed to single spaces. */
  readonly sql: string;
}

// Upper case, as every statement here is written; followed by more than a word (not a method name).
const STATEMENT = /^\s*(SELECT|INSERT|UPDATE|DELETE|REPLACE|WITH|CREATE|ALTER|DROP|TRUNCATE)\s+\S/;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** A call of a Sequelize model's query method (`Model.create`…): SQL the text does not show. */
export interface ModelCall {
  readonly file: string;
  readonly line: number;
  /** `Receiver.method`, as written. */
  readonly call: string;
}

const MODEL_METHODS = new Set([
  'create',
  'bulkCreate',
  'findAll',
  'findOne',
  'findByPk',
  'findOrCreate',
  'findAndCountAll',
  'count',
  'max',
  'min',
  'sum',
  'update',
  'upsert',
  'destroy',
  'increment',
  'decrement',
  'truncate',
]);

export function sqlStatements(root: string, dirs: readonly string[]): SqlStatement[] {
  return readSql(root, dirs).statements;
}

export function modelCalls(root: string, dirs: readonly string[]): ModelCall[] {
  return readSql(root, dirs).modelCalls;
}

const cache = new Map<string, { statements: SqlStatement[]; modelCalls: ModelCall[] }>();

function readSql(root: string, dirs: readonly string[]) {
  const key = `${root}|${dirs.join(',')}`;
  let found = cache.get(key);
  if (found === undefined) {
    found = read(root, dirs);
    cache.set(key, found);
  }
  return found;
}

function read(
  root: string,
  dirs: readonly string[],
): { statements: SqlStatement[]; modelCalls: ModelCall[] } {
  const files = dirs.flatMap((d) => sourceFiles(join(root, d)));
  const program = ts.createProgram(files, {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    noEmit: true,
    skipLibCheck: true,
  });
  const checker = program.getTypeChecker();

  /** The constant string a name stands for, or null when it is computed. */
  const constantOf = (node: ts.Expression, seen: Set<ts.Node>): string | null => {
    let symbol = checker.getSymbolAtLocation(node);
    if (symbol !== undefined && symbol.flags & ts.SymbolFlags.Alias)
      symbol = checker.getAliasedSymbol(symbol);
    const declaration = symbol?.valueDeclaration;
    if (
      declaration === undefined ||
      !ts.isVariableDeclaration(declaration) ||
      declaration.initializer === undefined ||
      !(ts.getCombinedNodeFlags(declaration) & ts.NodeFlags.Const) ||
      seen.has(declaration)
    )
      return null;
    return textOf(declaration.initializer, new Set([...seen, declaration]));
  };

  const textOf = (node: ts.Expression, seen: Set<ts.Node>): string | null => {
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return node.text;
    if (ts.isTemplateExpression(node)) {
      let text = node.head.text;
      for (const span of node.templateSpans) {
        text +=
          (constantOf(span.expression, seen) ?? `⟨${span.expression.getText()}⟩`) +
          span.literal.text;
      }
      return text;
    }
    if (ts.isBinaryExpression(node) && node.operatorToken.kind === ts.SyntaxKind.PlusToken) {
      const left = textOf(node.left, seen);
      const right = textOf(node.right, seen);
      return left === null || right === null ? null : left + right;
    }
    if (ts.isIdentifier(node) || ts.isPropertyAccessExpression(node)) return constantOf(node, seen);
    if (ts.isParenthesizedExpression(node)) return textOf(node.expression, seen);
    return null;
  };

  /** A constant is a statement when some use of it is not inside a template (a fragment). */
  const usedAlone = (declaration: ts.VariableDeclaration): boolean => {
    const symbol = checker.getSymbolAtLocation(declaration.name);
    let alone = false;
    for (const source of program.getSourceFiles()) {
      if (source.isDeclarationFile) continue;
      const visit = (node: ts.Node): void => {
        if (alone) return;
        if (ts.isIdentifier(node) && node !== declaration.name) {
          let found = checker.getSymbolAtLocation(node);
          if (found !== undefined && found.flags & ts.SymbolFlags.Alias)
            found = checker.getAliasedSymbol(found);
          const inImport = ts.findAncestor(
            node,
            (n) => ts.isImportDeclaration(n) || ts.isExportSpecifier(n),
          );
          if (found === symbol && inImport === undefined && !ts.isTemplateSpan(node.parent))
            alone = true;
        }
        ts.forEachChild(node, visit);
      };
      visit(source);
    }
    return alone;
  };

  /** Whether a type is a Sequelize model class (its static side: `typeof Model`). */
  const isModelClass = (type: ts.Type): boolean =>
    type
      .getProperties()
      .some((p) => p.getName() === 'sequelize' || p.getName() === 'rawAttributes') &&
    type.getProperty('findAll') !== undefined;

  const statements: SqlStatement[] = [];
  const calls: ModelCall[] = [];
  for (const source of program.getSourceFiles()) {
    if (source.isDeclarationFile || !files.includes(source.fileName)) continue;
    const visit = (node: ts.Node): void => {
      if (
        ts.isCallExpression(node) &&
        ts.isPropertyAccessExpression(node.expression) &&
        MODEL_METHODS.has(node.expression.name.text) &&
        isModelClass(checker.getTypeAtLocation(node.expression.expression))
      ) {
        calls.push({
          file: relative(root, source.fileName),
          line: source.getLineAndCharacterOfPosition(node.getStart()).line + 1,
          call: node.expression.getText(),
        });
      }
      const literal =
        ts.isStringLiteral(node) ||
        ts.isNoSubstitutionTemplateLiteral(node) ||
        ts.isTemplateExpression(node);
      // The outermost literal only: a template's parts are read with it.
      if (literal && !ts.isTemplateSpan(node.parent)) {
        const text = textOf(node, new Set());
        if (text !== null && STATEMENT.test(text)) {
          const declaration = ts.isVariableDeclaration(node.parent) ? node.parent : null;
          if (declaration === null || usedAlone(declaration)) {
            statements.push({
              file: relative(root, source.fileName),
              line: source.getLineAndCharacterOfPosition(node.getStart()).line + 1,
              sql: text.replace(/\s+/g, ' ').trim(),
            });
          }
        }
        return;
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return { statements, modelCalls: calls };
}
