// What a setting is, independent of where it is read: the CLI (a kebab-case flag), a job's
// JSON (camelCase) or the dashboard's form. Declared by the config and by the optimizers, so
// both can say what they take without depending on each other.

export interface Range {
  /** inclusive lower bound, or exclusive when `above` */
  readonly min?: number;
  readonly above?: boolean;
  /** inclusive upper bound, or exclusive when `below` */
  readonly max?: number;
  readonly below?: boolean;
}

export interface FieldSpec extends Range {
  /** the CLI flag: the field in kebab-case */
  readonly flag: string;
  readonly describe: string;
  readonly kind: 'string' | 'stringList' | 'int' | 'number' | 'intList' | 'choice' | 'boolean';
  readonly choices?: readonly string[];
  /**
   * The setting means something only when another one has one of these values (beta1 only
   * for adam and adamw): set explicitly otherwise, it is a usage error, not silently ignored.
   */
  readonly appliesWhen?: { readonly field: string; readonly values: readonly string[] };
}
