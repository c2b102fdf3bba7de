/*
 * src/engine/engine_internal.h - what the core's files share beyond driver.h
 * (the engine object itself is in driver.h, for the inline accessors).
 */
#ifndef VLLSI_ENGINE_INTERNAL_H
#define VLLSI_ENGINE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <vllsi/engine.h>

#include "driver.h"

int vl__op_validate(const vl_op *op);

#endif
