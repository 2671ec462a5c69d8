// Writes the README's two CSV examples, seeded, so their figures can be reproduced anywhere:
//   houses.csv  regression: price (thousands) from area, rooms, age, a district and a garden
//               flag, with interactions and noise (10 % of the variance is noise: R² ≤ 0.9)
//   loans.csv   classification: repaid / defaulted / late from income, debt ratio, years
//               employed, a purpose, with a non-linear boundary and 8 % label noise
// Usage: node dist/bench/make-tables.js DIR [ROWS]

import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../src/nn/rng.js';

const [dir = 'tables', rowsArg = '20000'] = process.argv.slice(2);
const rows = Number(rowsArg);
mkdirSync(dir, { recursive: true });

const rng = new Rng(2026);
const uniform = (lo: number, hi: number) => lo + (hi - lo) * rng.nextFloat();
const normal = () => Math.sqrt(-2 * Math.log(1 - rng.nextFloat())) * Math.cos(2 * Math.PI * rng.nextFloat());
const pick = <T>(xs: readonly T[]) => xs[Math.floor(rng.nextFloat() * xs.length)];

function write(name: string, header: string, row: () => string): void {
  const fd = openSync(join(dir, name), 'w');
  writeSync(fd, `${header}\n`);
  for (let i = 0; i < rows; i++) writeSync(fd, `${row()}\n`);
  closeSync(fd);
}

const DISTRICTS = { harbour: 1.35, old_town: 1.2, riverside: 1.05, suburbs: 0.85, industrial: 0.7 } as const;
write('houses.csv', 'area_m2,rooms,age_years,district,garden,price_k', () => {
  const area = uniform(25, 220);
  const rooms = Math.max(1, Math.round(area / 28 + normal() * 0.8));
  const age = uniform(0, 90);
  const district = pick(Object.keys(DISTRICTS) as (keyof typeof DISTRICTS)[]);
  const garden = rng.nextFloat() < 0.4 ? 'yes' : 'no';
  const value =
    (60 + 3.1 * area * DISTRICTS[district] + 9 * rooms - 0.9 * age + 0.006 * (age - 45) ** 2 * 10) *
    (garden === 'yes' ? 1.08 : 1);
  const price = value + normal() * 28;
  return `${area.toFixed(1)},${rooms},${age.toFixed(0)},${district},${garden},${price.toFixed(1)}`;
});

const PURPOSES = ['car', 'home', 'education', 'business', 'holiday'];
write('loans.csv', 'income_k,debt_ratio,years_employed,purpose,outcome', () => {
  const income = Math.exp(3.6 + 0.5 * normal());
  const debt = Math.min(0.95, Math.max(0, 0.35 + 0.18 * normal()));
  const years = Math.max(0, Math.round(uniform(-2, 30)));
  const purpose = pick(PURPOSES);
  const risk =
    4 * debt ** 2 -
    Math.log(income) * 0.6 -
    0.05 * years +
    (purpose === 'holiday' ? 0.5 : purpose === 'home' ? -0.3 : 0);
  let outcome = risk > -1.2 ? 'defaulted' : risk > -1.9 ? 'late' : 'repaid';
  if (rng.nextFloat() < 0.08) outcome = pick(['repaid', 'late', 'defaulted']);
  return `${income.toFixed(1)},${debt.toFixed(3)},${years},${purpose},${outcome}`;
});
process.stdout.write(`wrote ${join(dir, 'houses.csv')} and ${join(dir, 'loans.csv')}, ${rows} rows each\n`);
