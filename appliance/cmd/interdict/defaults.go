package main

import "github.com/interdict/interdict/configs"

func defaultConfig() []byte { return configs.Default }
