from calkeeper.cli.main import run

run()
