"""The command handlers: what each `distill` sub-command of distill/commands does when it runs. They sit above every
other folder (they run pipelines, reports and workflows); a command names its handler as "module:function", imported
only when the command runs (distill/commands/spec.py `Command.resolve`), so the command line starts fast."""
