import { IsBoolean, IsOptional } from 'class-validator';

export class LogoutAllDto {
  /** true: end every other session and keep this one ("log out other devices"). */
  @IsOptional()
  @IsBoolean()
  keepCurrent?: boolean;
}
