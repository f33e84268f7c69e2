from broker.runtime.cli import main

main()
