from embc.cli.app import main

main()
