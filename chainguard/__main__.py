from chainguard.cli import main

main()
