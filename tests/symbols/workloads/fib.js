// CPU-bound recursive fib for the JIT symbolication tests: `node fib.js [seconds]` (default 2).
'use strict';

function fib(n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

const seconds = Number(process.argv[2] || 2);
const end = Date.now() + seconds * 1000;
let total = 0;
while (Date.now() < end) {
  total += fib(25);
}
console.log(total > 0 ? 'ok' : 'impossible');
