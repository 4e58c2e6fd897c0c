from qdqtool.cli.main import main

main()
