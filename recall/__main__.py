from .service.client import main

main()
