from distill.warm import main

raise SystemExit(main())
