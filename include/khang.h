/**
 * @file khang.h
 * @brief libkhang: read Windows kernel memory dumps and tell why the system hung.
 *
 * Include this umbrella header; it includes every module header.
 */
#ifndef KHANG_H
#define KHANG_H

#include "khang/common.h"
#include "khang/errors.h"
#include "khang/version.h"
#include "khang/source.h"
#include "khang/layout.h"
#include "khang/kernel.h"
#include "khang/stack.h"
#include "khang/processor.h"
#include "khang/process.h"
#include "khang/thread.h"
#include "khang/irp.h"
#include "khang/alpc.h"
#include "khang/verdict.h"

#endif /* KHANG_H */
