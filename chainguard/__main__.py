from chainguard._launch import main

main()
