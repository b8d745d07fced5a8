print("smart-sync")
