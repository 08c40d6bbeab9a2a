/// The ad hoc query language: lexer, parser and AST (execution comes later).
public enum KPIQuery {}
