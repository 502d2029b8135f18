from netspec.cli import console

console()
