from soulsync_idmap.cli import main

main()
