from embc.cli import main

main()
